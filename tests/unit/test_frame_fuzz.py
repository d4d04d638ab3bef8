"""Fuzzing the sans-I/O codec and session: whatever a client sends, before or after auth,
the answer is a frame or a documented close, never an exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pigeon.common.protocol.codec import FrameError, decode_client_frame
from pigeon.common.protocol.frames import ErrorFrame, PongFrame
from pigeon.common.protocol.session import (
    Authenticate,
    Close,
    Dispatch,
    Reply,
    Session,
    SessionLimits,
    State,
)
from tests.fuzz_frames import FRAME_CLOSES, FRAME_ERRORS, any_frame
from tests.unit.test_session import hello

LIMITS = SessionLimits(
    max_frame_bytes=64 * 1024, rate_per_s=1e6, rate_burst=10**6, max_bad_frames=5
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(any_frame)
def test_the_codec_raises_only_frame_errors(data: str | bytes) -> None:
    error = decode_error(data)
    if error is not None:
        assert error.code in FRAME_ERRORS
        assert error.message


def decode_error(data: str | bytes) -> FrameError | None:
    """The FrameError decoding raises, if any (anything else escapes and fails the test)."""
    try:
        decode_client_frame(data)
    except FrameError as exc:
        return exc
    return None


def check_answer(session: Session, data: str | bytes, now: float) -> None:
    """One frame gets a documented answer; a refused frame never reaches the domain."""
    for action in session.receive(data, now):
        if isinstance(action, Reply):
            if isinstance(action.frame, ErrorFrame):
                assert action.frame.code in FRAME_ERRORS
            else:
                assert isinstance(action.frame, PongFrame)
        elif isinstance(action, Close):
            assert action.code in FRAME_CLOSES
        else:
            assert isinstance(action, Dispatch | Authenticate)


@FUZZ
@given(st.lists(any_frame, min_size=1, max_size=8), st.booleans())
def test_the_session_answers_every_frame(frames: list[str | bytes], authenticated: bool) -> None:
    session = Session(LIMITS, opened_at=0.0)
    if authenticated:
        session.receive('{"type":"auth","token":"t"}', 0.0)
        session.accept(hello())
    for i, data in enumerate(frames):
        check_answer(session, data, 0.01 * (i + 1))
    assert session.bad_frames <= LIMITS.max_bad_frames + 1
    if session.state is State.AUTHENTICATING:  # the fuzzer's own auth frame: answer it
        session.accept(hello())
