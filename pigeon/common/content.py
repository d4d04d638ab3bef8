"""Message bodies by kind, validated the same way on every path that stores one."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pigeon.common.errors import InvalidRequest

Url = Annotated[str, Field(min_length=1, max_length=1024)]
Size = Annotated[int, Field(ge=0, le=2**40)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextBody(_Body):
    text: Annotated[str, Field(min_length=1)]


class ImageBody(_Body):
    url: Url
    thumb_url: Url | None = None
    width: Annotated[int, Field(ge=1, le=100_000)]
    height: Annotated[int, Field(ge=1, le=100_000)]
    size: Size = 0


class FileBody(_Body):
    url: Url
    name: Annotated[str, Field(min_length=1, max_length=255)]
    size: Size
    mime: Annotated[str, Field(max_length=255)] = "application/octet-stream"


class VoiceBody(_Body):
    url: Url
    duration_ms: Annotated[int, Field(ge=1, le=10 * 60 * 1000)]
    size: Size = 0


class LocationBody(_Body):
    latitude: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    longitude: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    label: Annotated[str, Field(max_length=200)] = ""
    address: Annotated[str, Field(max_length=300)] = ""


class ContactBody(_Body):
    """A user's card: the sender names the user, the server fills in who they are."""

    user_id: Annotated[int, Field(gt=0, lt=2**63)]


BODIES: dict[str, type[_Body]] = {
    "text": TextBody,
    "image": ImageBody,
    "file": FileBody,
    "voice": VoiceBody,
    "location": LocationBody,
    "contact": ContactBody,
}


def validate_body(kind: str, body: dict[str, Any], max_text_chars: int) -> dict[str, Any]:
    """Return the normalised body, or raise :class:`InvalidRequest` saying what is wrong."""
    model = BODIES.get(kind)
    if model is None:
        raise InvalidRequest(f"clients cannot send messages of kind {kind!r}")
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidRequest(f"{kind} body: {where}: {first['msg']}") from None
    if isinstance(parsed, TextBody):
        if not parsed.text.strip():
            raise InvalidRequest("the message is empty")
        if len(parsed.text) > max_text_chars:
            raise InvalidRequest(f"text messages are limited to {max_text_chars} characters")
    return parsed.model_dump(exclude_none=True)
