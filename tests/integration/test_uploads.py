"""Uploads: images decoded with size and thumbnail, files downloaded safely, bad ones refused."""

from __future__ import annotations

import io
import zlib

import httpx
import pytest
from PIL import Image

from pigeon.client import ApiError, PigeonClient
from tests.conftest import PASSWORD, MakeClient, unique_name
from tests.harness import start_embedded
from tests.helpers import make_friends

pytestmark = pytest.mark.asyncio


def png_bytes(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(out, "PNG")
    return out.getvalue()


async def upload(
    client: PigeonClient, data: bytes, name: str, kind: str, mime: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=client.base_url) as http:
        return await http.post(
            "/api/v1/uploads",
            headers={"Authorization": f"Bearer {client.access_token}"},
            files={"file": (name, data, mime)},
            data={"kind": kind},
        )


async def test_image_upload_then_send_and_fetch(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    conversation = await make_friends(alice, bob)
    response = await upload(alice, png_bytes(800, 600), "cat.png", "image", "image/png")
    assert response.status_code == 201
    image = response.json()
    assert (image["kind"], image["mime"], image["width"], image["height"]) == (
        "image",
        "image/png",
        800,
        600,
    )
    body = {k: image[k] for k in ("url", "thumb_url", "width", "height", "size")}
    await alice.send("image", body, conversation_id=conversation)
    got = await bob.next_message()
    assert (got["kind"], got["body"]["url"]) == ("image", image["url"])

    async with httpx.AsyncClient(base_url=bob.base_url) as http:
        original = await http.get(image["url"])
        assert original.headers["content-type"] == "image/png"
        assert original.headers["x-content-type-options"] == "nosniff"
        assert Image.open(io.BytesIO(original.content)).size == (800, 600)
        thumb = await http.get(image["thumb_url"])
        assert thumb.headers["content-type"] == "image/jpeg"
        assert max(Image.open(io.BytesIO(thumb.content)).size) == 320
        missing = await http.get("/files/" + "0" * 32)
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
        traversal = await http.get("/files/..%2F..%2Fsecret.key")
        assert traversal.status_code == 404


async def test_files_download_as_attachments(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    html = b"<script>alert(1)</script>"
    response = await upload(alice, html, "evil page.html", "file", "text/html")
    assert response.status_code == 201
    stored = response.json()
    assert (stored["size"], stored["thumb_url"]) == (len(html), None)
    async with httpx.AsyncClient(base_url=alice.base_url) as http:
        served = await http.get(stored["url"])
    assert served.content == html
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["content-disposition"].startswith("attachment;")
    assert "evil%20page.html" in served.headers["content-disposition"]


@pytest.mark.parametrize(
    ("data", "kind", "mime", "status", "code"),
    [
        (b"not an image at all", "image", "image/png", 422, "invalid_image"),
        (png_bytes(10, 10)[:40], "image", "image/png", 422, "invalid_image"),
        (b"", "file", "text/plain", 422, "invalid_request"),
        (b"RIFF....", "voice", "application/x-msdownload", 422, "invalid_request"),
        (b"x", "sticker", "text/plain", 422, "invalid_request"),
    ],
)
async def test_bad_uploads_are_refused(
    make_client: MakeClient, data: bytes, kind: str, mime: str, status: int, code: str
) -> None:
    alice = await make_client(connect=False)
    response = await upload(alice, data, "x.bin", kind, mime)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


async def test_uploads_need_a_token_and_respect_the_size_limit(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    async with httpx.AsyncClient(base_url=alice.base_url) as http:
        anonymous = await http.post(
            "/api/v1/uploads", files={"file": ("a.txt", b"a", "text/plain")}
        )
        assert anonymous.status_code == 401
        huge = await http.post(
            "/api/v1/uploads",
            headers={"Authorization": f"Bearer {alice.access_token}"},
            files={"file": ("big.bin", b"\0" * (26 * 1024 * 1024), "application/octet-stream")},
        )
        assert (huge.status_code, huge.json()["error"]["code"]) == (413, "payload_too_large")


async def test_decompression_bombs_are_refused(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    out = io.BytesIO()
    Image.new("1", (8000, 8000)).save(out, "PNG")  # 64 megapixels in a few kilobytes
    assert len(out.getvalue()) < 100_000
    response = await upload(alice, out.getvalue(), "bomb.png", "image", "image/png")
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_image")
    assert "pixels" in response.json()["error"]["message"]


async def test_attachment_facts_come_from_the_upload(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    conversation = await make_friends(alice, bob)
    image = (await upload(alice, png_bytes(64, 48), "a.png", "image", "image/png")).json()
    lying = {"url": image["url"], "width": 9999, "height": 1, "size": 1, "thumb_url": "/x"}
    await alice.send("image", lying, conversation_id=conversation)
    got = await bob.next_message()
    assert {k: got["body"][k] for k in ("width", "height", "size", "thumb_url")} == {
        "width": 64,
        "height": 48,
        "size": image["size"],
        "thumb_url": image["thumb_url"],
    }
    for body in (
        {"url": "https://tracker.example/pixel.png", "width": 1, "height": 1},
        {"url": "/files/" + "f" * 32, "width": 1, "height": 1},
    ):
        with pytest.raises(ApiError) as caught:
            await alice.send("image", body, conversation_id=conversation)
        assert caught.value.code == "invalid_request"
    voice_as_image = {"url": image["url"], "duration_ms": 1000}
    with pytest.raises(ApiError) as caught:
        await alice.send("voice", voice_as_image, conversation_id=conversation)
    assert "not a voice" in caught.value.message


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that announces ``width`` x ``height`` RGB pixels, in a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + kind + data + crc

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    rows = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


async def test_images_that_would_take_too_much_memory_are_refused(
    make_client: MakeClient,
) -> None:
    alice = await make_client(connect=False)
    # 6300 x 6300 is under the pixel limit, but its pixels would take 151 MiB.
    data = png_header_only(6300, 6300)
    assert len(data) < 2000
    response = await upload(alice, data, "wide.png", "image", "image/png")
    assert (response.status_code, response.json()["error"]["code"]) == (413, "image_too_large")
    assert "MiB" in response.json()["error"]["message"]


async def test_jpeg_originals_lose_their_gps_position(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825).update({1: "N", 2: (45.0, 45.0, 36.0), 3: "E", 4: (4.0, 50.0, 0.0)})
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (30, 90, 160)).save(out, "JPEG", exif=exif.tobytes())
    assert Image.open(io.BytesIO(out.getvalue())).getexif().get_ifd(0x8825)
    response = await upload(alice, out.getvalue(), "holiday.jpg", "image", "image/jpeg")
    assert response.status_code == 201
    stored = response.json()
    assert (stored["width"], stored["height"]) == (80, 120)
    async with httpx.AsyncClient(base_url=alice.base_url) as http:
        original = await http.get(stored["url"])
    assert len(original.content) == stored["size"]
    assert b"PhoneMaker" not in original.content
    image = Image.open(io.BytesIO(original.content))
    assert not image.getexif().get_ifd(0x8825)
    assert not image.getexif()
    assert image.size == (80, 120)  # the orientation is applied to the pixels


async def test_uploads_are_limited_per_user() -> None:
    limited = start_embedded({"PIGEON_UPLOADS__RATE_PER_USER": "3"})
    try:
        async with PigeonClient(limited.http_url) as alice, PigeonClient(limited.http_url) as bob:
            await alice.register(unique_name(), PASSWORD)
            await bob.register(unique_name(), PASSWORD)
            codes = [
                (await upload(alice, b"hello", "a.txt", "file", "text/plain")).status_code
                for _ in range(4)
            ]
            assert codes == [201, 201, 201, 429]
            refused = await upload(alice, b"hello", "a.txt", "file", "text/plain")
            assert refused.json()["error"]["code"] == "rate_limited"
            assert "uploads" in refused.json()["error"]["message"]
            assert (await upload(bob, b"hi", "b.txt", "file", "text/plain")).status_code == 201
    finally:
        limited.stop()
