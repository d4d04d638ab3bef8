"""The per-connection session state machine, with literal frames and a fake clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pytest

from pigeon.common.models import User
from pigeon.common.protocol.closecodes import CloseCode
from pigeon.common.protocol.frames import ErrorFrame, HelloFrame, PongFrame, SendFrame
from pigeon.common.protocol.session import (
    Action,
    Authenticate,
    Close,
    Dispatch,
    IllegalTransition,
    Reply,
    Session,
    SessionLimits,
    State,
)

LIMITS = SessionLimits(
    auth_timeout_s=5,
    heartbeat_timeout_s=60,
    max_frame_bytes=1000,
    rate_per_s=10,
    rate_burst=5,
    max_bad_frames=3,
)
SEND = '{"type":"send","ref":"r1","client_msg_id":"c1","conversation_id":1,"body":{"text":"x"}}'


def hello() -> HelloFrame:
    user = User(id=1, username="a", nickname="a", avatar_url="", signature="", created_at=0)
    return HelloFrame(
        user=user,
        session_id="s",
        device="web",
        device_id="d",
        heartbeat_interval=25000,
        heartbeat_timeout=60000,
        server_time=0,
        rate_limit_per_s=10,
        rate_limit_burst=5,
    )


def open_session() -> Session:
    session = Session(LIMITS, opened_at=0.0)
    assert session.receive('{"type":"auth","token":"tok","device":"mobile"}', 0.1) == [
        Authenticate("tok", "mobile")
    ]
    assert session.accept(hello()) == [Reply(hello())]
    assert session.state is State.OPEN
    return session


def error_codes(actions: Sequence[Action]) -> list[str]:
    return [
        a.frame.code for a in actions if isinstance(a, Reply) and isinstance(a.frame, ErrorFrame)
    ]


def error_frame(action: Action) -> ErrorFrame:
    """The error frame of a reply that ``error_codes`` has just shown to be one."""
    return cast(ErrorFrame, cast(Reply, action).frame)


def test_auth_then_requests_are_dispatched() -> None:
    session = open_session()
    [action] = session.receive(SEND, 1.0)
    assert isinstance(action, Dispatch)
    assert isinstance(action.frame, SendFrame)
    [pong] = session.receive('{"type":"ping"}', 2.0)
    assert pong == Reply(PongFrame(server_time=2000))


def test_requests_before_auth_are_refused_not_dispatched() -> None:
    session = Session(LIMITS, opened_at=0.0)
    actions = session.receive(SEND, 0.5)
    assert error_codes(actions) == ["not_authenticated"]
    assert error_frame(actions[0]).ref == "r1"
    assert session.state is State.AWAITING_AUTH


def test_no_auth_in_time_closes_with_auth_timeout() -> None:
    session = Session(LIMITS, opened_at=0.0)
    assert session.tick(4.9) == []
    assert session.tick(5.1) == [Close(CloseCode.AUTH_TIMEOUT, "no auth frame in time")]
    assert session.state is State.CLOSED
    assert session.receive('{"type":"ping"}', 6) == []


def test_rejected_token_gets_error_then_close() -> None:
    session = Session(LIMITS, opened_at=0.0)
    session.receive('{"type":"auth","token":"bad"}', 0.1)
    actions = session.reject("invalid access token")
    assert error_codes(actions) == ["unauthorized"]
    assert actions[-1] == Close(CloseCode.AUTH_FAILED, "invalid access token")


def test_second_auth_frame_is_an_error() -> None:
    session = open_session()
    assert error_codes(session.receive('{"type":"auth","token":"t"}', 1)) == [
        "already_authenticated"
    ]


def test_silence_past_heartbeat_timeout_closes() -> None:
    session = open_session()
    session.receive('{"type":"ping"}', 30)
    assert session.tick(89) == []
    assert session.tick(91) == [Close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")]


def test_oversize_frame_closes_with_1009() -> None:
    session = open_session()
    assert session.receive("x" * 1001, 1) == [Close(CloseCode.MESSAGE_TOO_BIG, "frame too big")]


def test_too_many_bad_frames_close_the_connection() -> None:
    session = open_session()
    for _ in range(3):
        assert error_codes(session.receive("{oops", 1)) == ["bad_json"]
    assert session.receive("{oops", 1) == [
        Close(CloseCode.PROTOCOL_VIOLATION, "too many bad frames")
    ]


def test_flood_is_refused_with_ref_then_closed() -> None:
    session = open_session()
    now = 10.0
    for _ in range(5):
        assert isinstance(session.receive(SEND, now)[0], Dispatch)
    refused = session.receive(SEND, now)
    assert error_codes(refused) == ["rate_limited"]
    frame = error_frame(refused[0])
    assert frame.ref == "r1"
    assert frame.retry_after_ms is not None
    assert frame.retry_after_ms > 0
    for _ in range(4):
        assert error_codes(session.receive(SEND, now)) == ["rate_limited"]
    assert session.receive(SEND, now) == [Close(CloseCode.RATE_LIMITED, "flood")]


def test_rate_recovers_with_time() -> None:
    session = open_session()
    for _ in range(6):
        session.receive(SEND, 10.0)
    assert isinstance(session.receive(SEND, 10.2)[0], Dispatch)


def test_typing_frames_are_throttled_silently() -> None:
    session = open_session()
    assert isinstance(session.receive('{"type":"typing","conversation_id":4}', 1.0)[0], Dispatch)
    assert session.receive('{"type":"typing","conversation_id":4}', 1.5) == []
    assert isinstance(session.receive('{"type":"typing","conversation_id":5}', 1.5)[0], Dispatch)
    assert isinstance(session.receive('{"type":"typing","conversation_id":4}', 2.1)[0], Dispatch)


def test_illegal_transition_names_both_states() -> None:
    session = open_session()
    with pytest.raises(IllegalTransition, match="from open to open"):
        session.accept(hello())


def test_frames_with_a_type_that_is_not_a_string_count_as_bad_frames() -> None:
    session = Session(SessionLimits(max_frame_bytes=64 * 1024, max_bad_frames=3), opened_at=0.0)
    # Before auth, too.
    for frame in ('{"type":["send"]}', '{"type":{"a":1}}', "[" * 10_000 + "]" * 10_000):
        assert error_codes(session.receive(frame, 0.1)) in (["invalid_frame"], ["bad_json"])
    assert session.receive('{"type":["send"]}', 0.2) == [
        Close(CloseCode.PROTOCOL_VIOLATION, "too many bad frames")
    ]


def test_auth_deadline_passing_while_the_token_is_checked_wins_over_the_late_answer() -> None:
    session = Session(LIMITS, opened_at=0.0)
    assert session.receive('{"type":"auth","token":"tok"}', 4.0) == [Authenticate("tok", "web")]
    assert session.tick(5.1) == [Close(CloseCode.AUTH_TIMEOUT, "no auth frame in time")]
    assert session.accept(hello()) == []
    assert session.reject("invalid access token") == []
    assert session.state is State.CLOSED


def test_a_server_close_while_authenticating_is_final() -> None:
    session = Session(LIMITS, opened_at=0.0)
    session.receive('{"type":"auth","token":"tok"}', 0.1)
    assert session.close(CloseCode.SERVICE_RESTART, "server shutdown") == [
        Close(CloseCode.SERVICE_RESTART, "server shutdown")
    ]
    assert session.accept(hello()) == []
    assert session.tick(10) == []
    assert session.close(CloseCode.REVOKED, "device logged out") == []


OUTPUT = SessionLimits(
    heartbeat_timeout_s=60, send_queue_bytes=1000, send_stall_timeout_s=10, rate_burst=50
)


def test_full_output_stops_input_until_it_drains() -> None:
    session = Session(OUTPUT, opened_at=0.0)
    assert session.queued(999, 1.0) == []
    assert session.wants_input
    assert session.queued(1, 1.0) == []
    assert not session.wants_input
    session.written(500, 2.0)
    assert session.wants_input


def test_output_full_for_the_stall_timeout_closes_with_4009() -> None:
    session = Session(OUTPUT, opened_at=0.0)
    session.receive('{"type":"auth","token":"tok"}', 0.1)
    session.accept(hello())
    session.queued(1500, 1.0)
    session.receive('{"type":"ping"}', 10.0)  # sending does not count as reading
    assert session.tick(10.9) == []
    assert session.tick(11.1) == [
        Close(CloseCode.TOO_SLOW, "client is not reading fast enough", discard_unsent=True)
    ]


def test_output_at_twice_the_bound_closes_at_once() -> None:
    session = Session(OUTPUT, opened_at=0.0)
    assert session.queued(1999, 1.0) == []
    assert session.queued(1, 1.0) == [
        Close(CloseCode.TOO_SLOW, "client is not reading fast enough", discard_unsent=True)
    ]
    assert session.state is State.CLOSED


def test_a_client_that_pings_but_reads_nothing_meets_the_heartbeat_timeout() -> None:
    session = open_session()  # LIMITS: 60 s heartbeat timeout
    session.queued(10, 1.0)
    for now in range(10, 61, 10):
        session.receive('{"type":"ping"}', now)
        session.queued(30, now)  # its pong, which it does not read either
    assert session.tick(60.5) == []
    assert session.tick(61.5) == [
        Close(CloseCode.HEARTBEAT_TIMEOUT, "client is not reading", discard_unsent=True)
    ]


def test_output_that_moves_keeps_the_connection() -> None:
    session = open_session()
    for now in range(1, 200):
        session.receive('{"type":"ping"}', now)
        session.queued(30, now)
        assert session.tick(now + 0.5) == []
        session.written(30, now + 0.5)
