"""Message bodies are validated the same on every path."""

from __future__ import annotations

import pytest

from pigeon.common.content import validate_body
from pigeon.common.errors import InvalidRequest


def test_text_is_kept_as_sent() -> None:
    assert validate_body("text", {"text": "hi 👋 <b>x</b>"}, 100) == {"text": "hi 👋 <b>x</b>"}


@pytest.mark.parametrize(
    ("kind", "body", "needle"),
    [
        ("text", {"text": "   "}, "empty"),
        ("text", {"text": "x" * 101}, "100 characters"),
        ("text", {}, "text"),
        ("text", {"text": "a", "html": "<b>"}, "html"),
        ("image", {"url": "/f/1"}, "width"),
        ("file", {"url": "/f/1", "size": 3}, "name"),
        ("voice", {"url": "/f/1", "duration_ms": 0}, "duration_ms"),
        ("system", {"tip": "x"}, "system"),
        ("recall", {"message_id": 1}, "recall"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason(
    kind: str, body: dict[str, object], needle: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_body(kind, body, 100)
    assert needle in caught.value.message


def test_media_bodies_are_normalised() -> None:
    image = validate_body("image", {"url": "/f/1", "width": 4, "height": 3}, 100)
    assert image == {"url": "/f/1", "width": 4, "height": 3, "size": 0}
