"""Text frames to typed frames and back; every way a frame can be bad has its own code."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pigeon.common.protocol.frames import CLIENT_FRAME_TYPES, ClientFrame, ServerFrame

_client_frames: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)

# No client frame needs more than a few levels (a message body is a small object); deeper
# input is refused before validation, which would otherwise recurse through all of it.
MAX_NESTING = 32


class FrameError(Exception):
    """A frame that cannot be accepted; ``code`` goes to the client in an error frame."""

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def decode_client_frame(data: str | bytes) -> ClientFrame:
    """Parse one client frame, raising :class:`FrameError` with a precise code.

    Whatever the client sends, the only exception that leaves is :class:`FrameError`: a
    hostile frame must cost an error frame, never a traceback or a dropped connection.
    """
    raw = _parse_json(data)
    if not isinstance(raw, dict):
        raise FrameError("invalid_frame", "a frame must be a JSON object")
    ref = raw.get("ref") if isinstance(raw.get("ref"), str) else None
    frame_type = raw.get("type")
    if frame_type is None:
        raise FrameError("unknown_type", "the frame has no type", ref)
    if not isinstance(frame_type, str):
        raise FrameError("invalid_frame", "type: must be a string", ref)
    if frame_type not in CLIENT_FRAME_TYPES:
        raise FrameError("unknown_type", f"unknown frame type: {frame_type[:40]!r}", ref)
    if _nested_deeper_than(raw, MAX_NESTING):
        raise FrameError("invalid_frame", f"frame is nested deeper than {MAX_NESTING}", ref)
    try:
        return _client_frames.validate_python(raw)
    except ValidationError as exc:
        raise FrameError("invalid_frame", _describe(exc), ref) from None


def peek_ref(data: str | bytes) -> str | None:
    """The ``ref`` of a frame that will not be handled, if it has a readable one."""
    try:
        raw = _parse_json(data)
    except FrameError:
        return None
    ref = raw.get("ref") if isinstance(raw, dict) else None
    return ref if isinstance(ref, str) and len(ref) <= 64 else None


def encode_server_frame(frame: ServerFrame) -> str:
    """The JSON text for one server frame."""
    return frame.model_dump_json()


def _parse_json(data: str | bytes) -> Any:
    """``json.loads``, with every way it can fail (deep nesting too) as ``bad_json``."""
    try:
        return json.loads(data)
    except RecursionError:
        raise FrameError("bad_json", "frame is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameError("bad_json", f"frame is not valid JSON: {exc}") from None


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether JSON ``value`` has containers more than ``limit`` levels deep.

    Iterative, so that it cannot itself run out of stack on what ``json`` accepted."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[Any] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _describe(exc: ValidationError) -> str:
    parts: list[str] = []
    for error in exc.errors(include_url=False)[:3]:
        loc: tuple[Any, ...] = error["loc"][1:] if len(error["loc"]) > 1 else error["loc"]
        where = ".".join(str(p) for p in loc) or "frame"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
