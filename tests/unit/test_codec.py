"""The frame codec, fed literal frames."""

from __future__ import annotations

import pytest

from pigeon.common.protocol.codec import (
    FrameError,
    decode_client_frame,
    encode_server_frame,
    peek_ref,
)
from pigeon.common.protocol.frames import AuthFrame, ErrorFrame, PongFrame, SendFrame


def test_decodes_each_client_frame_type() -> None:
    assert isinstance(decode_client_frame('{"type":"auth","token":"t"}'), AuthFrame)
    send = decode_client_frame(
        '{"type":"send","client_msg_id":"c1","to_user_id":2,"body":{"text":"hi"}}'
    )
    assert isinstance(send, SendFrame)
    assert (send.kind, send.to_user_id, send.conversation_id) == ("text", 2, None)
    for text in (
        '{"type":"ping"}',
        '{"type":"sync","conversation_id":3,"after":10}',
        '{"type":"read","conversation_id":3,"seq":4}',
        '{"type":"typing","conversation_id":3}',
        '{"type":"recall","message_id":9}',
    ):
        assert decode_client_frame(text).type in text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        ("[1,2]", "invalid_frame"),
        ('"auth"', "invalid_frame"),
        ('{"type":"launch_rockets"}', "unknown_type"),
        ('{"no_type":1}', "unknown_type"),
        ('{"type":"auth"}', "invalid_frame"),
        ('{"type":"auth","token":123}', "invalid_frame"),
        ('{"type":"sync","conversation_id":"seven"}', "invalid_frame"),
        ('{"type":"sync","conversation_id":-1}', "invalid_frame"),
        ('{"type":"sync","conversation_id":1,"limit":100000}', "invalid_frame"),
        ('{"type":"ping","extra":true}', "invalid_frame"),
        ('{"type":"send","client_msg_id":"c","body":{}}', "invalid_frame"),
        (
            '{"type":"send","client_msg_id":"c","conversation_id":1,"to_user_id":2,"body":{}}',
            "invalid_frame",
        ),
        ('{"type":"send","client_msg_id":"","conversation_id":1,"body":{}}', "invalid_frame"),
        # A type that is not a string (unhashable ones used to raise TypeError).
        ('{"type":["send"]}', "invalid_frame"),
        ('{"type":{"a":1}}', "invalid_frame"),
        ('{"type":7,"ref":"r"}', "invalid_frame"),
        # Nesting within the size limit: deeper than json can parse (RecursionError) ...
        ('{"a":' * 10_000 + "1" + "}" * 10_000, "bad_json"),
        ("[" * 10_000 + "]" * 10_000, "bad_json"),
        # ... or parseable, but deeper than any frame needs.
        (
            '{"type":"send","client_msg_id":"c","conversation_id":1,"body":'
            + '{"a":' * 500
            + "1"
            + "}" * 501,
            "invalid_frame",
        ),
    ],
)
def test_bad_frames_get_precise_codes(text: str | bytes, code: str) -> None:
    with pytest.raises(FrameError) as caught:
        decode_client_frame(text)
    assert caught.value.code == code
    assert caught.value.message


def test_peek_ref_survives_hostile_frames() -> None:
    assert peek_ref("[" * 10_000 + "]" * 10_000) is None
    assert peek_ref('{"type":["send"],"ref":"r"}') == "r"


def test_error_keeps_the_ref_of_a_frame_it_could_read() -> None:
    with pytest.raises(FrameError) as caught:
        decode_client_frame('{"type":"sync","ref":"r7","conversation_id":"x"}')
    assert caught.value.ref == "r7"
    assert "conversation_id" in caught.value.message


def test_encodes_server_frames_as_compact_json() -> None:
    assert encode_server_frame(PongFrame(server_time=5)) == '{"type":"pong","server_time":5}'
    text = encode_server_frame(ErrorFrame(ref="r", code="bad_json", message="m"))
    assert '"type":"error"' in text
    assert '"code":"bad_json"' in text
