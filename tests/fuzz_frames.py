"""Hypothesis strategies for client frames: valid ones of every type, mutated ones, noise.

Shared by the sans-I/O fuzz test (many examples) and the real-socket one (a few)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from pigeon.common.protocol.closecodes import CloseCode

VALID: dict[str, dict[str, Any]] = {
    "auth": {"type": "auth", "token": "tok", "device": "web"},
    "ping": {"type": "ping"},
    "send": {
        "type": "send",
        "ref": "r1",
        "client_msg_id": "c1",
        "to_user_id": 2,
        "body": {"text": "hi"},
    },
    "sync": {"type": "sync", "ref": "r2", "conversation_id": 1, "after": 0, "limit": 10},
    "read": {"type": "read", "conversation_id": 1, "seq": 1},
    "typing": {"type": "typing", "conversation_id": 1},
    "recall": {"type": "recall", "ref": "r3", "message_id": 1},
}

# What a bad frame may be answered with: an error frame with one of these codes ...
FRAME_ERRORS = frozenset(
    {
        "bad_json",
        "invalid_frame",
        "unknown_type",
        "not_authenticated",
        "already_authenticated",
        "rate_limited",
        "unauthorized",
    }
)
# ... or one of these documented close codes.
FRAME_CLOSES = frozenset(
    {
        CloseCode.MESSAGE_TOO_BIG,
        CloseCode.PROTOCOL_VIOLATION,
        CloseCode.AUTH_FAILED,
        CloseCode.RATE_LIMITED,
    }
)

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_frame(draw: st.DrawFn) -> dict[str, Any]:
    """A valid frame of some type with one field changed, dropped or added."""
    frame = dict(VALID[draw(st.sampled_from(sorted(VALID)))])
    field = draw(st.sampled_from([*frame, "ref", "extra"]))
    how = draw(st.sampled_from(["set", "drop"]))
    if how == "drop":
        frame.pop(field, None)
    else:
        frame[field] = draw(json_values)
    return frame


@st.composite
def deep_frame(draw: st.DrawFn) -> str:
    """Containers nested ``depth`` deep, inside a frame or alone."""
    depth = draw(st.integers(min_value=20, max_value=5000))
    opener, closer = draw(st.sampled_from([('{"a":', "}"), ("[", "]")]))
    inner = opener * depth + "1" + closer * depth
    return draw(st.sampled_from([inner, '{"type":"send","body":' + inner + "}"]))


def as_text(frame: dict[str, Any]) -> str:
    return json.dumps(frame)


@st.composite
def corrupted_text(draw: st.DrawFn) -> str:
    """A frame's JSON text cut short or with characters overwritten."""
    text = as_text(draw(mutated_frame()))
    at = draw(st.integers(min_value=0, max_value=len(text)))
    if draw(st.booleans()):
        return text[:at]
    return text[:at] + draw(st.text(min_size=1, max_size=3)) + text[at + 1 :]


any_frame: st.SearchStrategy[str | bytes] = st.one_of(
    st.builds(as_text, mutated_frame()),
    corrupted_text(),
    deep_frame(),
    st.builds(json.dumps, json_values),
    st.text(max_size=40),
    st.binary(max_size=40),
)
