"""Avatars: uploaded as kind=avatar, cut square, made small, stripped, served cacheable."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from pigeon.client import ApiError, PigeonClient
from tests.conftest import MakeClient
from tests.helpers import expect_event, make_group

pytestmark = pytest.mark.asyncio


def picture(width: int, height: int, fmt: str = "PNG", **options: object) -> bytes:
    """Three vertical bands, green | red | blue, so a crop shows which part was kept."""
    image = Image.new("RGB", (width, height), (0, 160, 0))
    image.paste((220, 0, 0), (width // 3, 0, 2 * width // 3, height))
    image.paste((0, 0, 220), (2 * width // 3, 0, width, height))
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def dominant(image: Image.Image, x: int, y: int) -> str:
    pixel = image.getpixel((x, y))
    assert isinstance(pixel, tuple)
    return ("red", "green", "blue")[max(range(3), key=lambda i: pixel[i])]


async def fetch(client: PigeonClient, url: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=client.base_url) as http:
        return await http.get(url)


async def test_an_avatar_is_a_small_clean_square_others_see(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    bob = await make_client(connect=False)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825).update({1: "N", 2: (45.0, 45.0, 36.0)})
    photo = picture(1200, 800, "JPEG", exif=exif.tobytes(), quality=95)

    stored = await alice.upload(photo, "me.jpg", "avatar", "image/jpeg")
    assert (stored["kind"], stored["mime"], stored["width"], stored["height"]) == (
        "avatar",
        "image/webp",
        256,
        256,
    )
    assert stored["name"] == "me.webp"

    served = await fetch(bob, stored["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/webp"
    assert "immutable" in served.headers["cache-control"]
    assert served.headers["etag"]
    image = Image.open(io.BytesIO(served.content))
    assert (image.format, image.size) == ("WEBP", (256, 256))
    assert not image.getexif()
    assert "exif" not in image.info
    # The middle square was kept: a quarter green, half red, a quarter blue.
    rgb = image.convert("RGB")
    assert [dominant(rgb, x, 128) for x in (20, 128, 236)] == ["green", "red", "blue"]
    thumb = Image.open(io.BytesIO((await fetch(bob, stored["thumb_url"])).content))
    assert (thumb.format, thumb.size) == ("WEBP", (96, 96))

    me = await alice.request("PATCH", "/users/me", json={"avatar_url": stored["url"]})
    assert me["avatar_url"] == stored["url"]
    seen = await bob.request("GET", f"/users/{alice.user_id}")
    assert seen["avatar_url"] == stored["url"]


async def test_small_pictures_are_not_enlarged_and_animations_keep_one_frame(
    make_client: MakeClient,
) -> None:
    alice = await make_client(connect=False)
    small = await alice.upload(picture(90, 60), "small.png", "avatar", "image/png")
    assert (small["width"], small["height"]) == (60, 60)
    frames = [Image.new("RGB", (40, 40), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    gif = await alice.upload(out.getvalue(), "wave.gif", "avatar", "image/gif")
    image = Image.open(io.BytesIO((await fetch(alice, gif["url"])).content))
    assert (image.format, getattr(image, "n_frames", 1), image.size) == ("WEBP", 1, (40, 40))


@pytest.mark.parametrize(
    ("data", "name", "status", "code", "words"),
    [
        (b"not a picture", "x.png", 422, "invalid_image", "not a readable image"),
        (b"", "empty.png", 422, "invalid_request", "empty"),
        (picture(30, 30, "BMP"), "old.bmp", 422, "invalid_image", "BMP images are not supported"),
        (b"\0" * (10 * 1024 * 1024 + 1), "huge.png", 413, "payload_too_large", "avatars are"),
    ],
)
async def test_bad_avatars_are_refused(
    make_client: MakeClient, data: bytes, name: str, status: int, code: str, words: str
) -> None:
    alice = await make_client(connect=False)
    with pytest.raises(ApiError) as caught:
        await alice.upload(data, name, "avatar", "image/png")
    assert (caught.value.status, caught.value.code) == (status, code)
    assert words in caught.value.message


async def test_avatar_decompression_bombs_are_refused(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    out = io.BytesIO()
    Image.new("1", (8000, 8000)).save(out, "PNG")
    with pytest.raises(ApiError) as caught:
        await alice.upload(out.getvalue(), "bomb.png", "avatar", "image/png")
    assert (caught.value.status, caught.value.code) == (422, "invalid_image")


async def test_avatar_urls_into_files_must_name_an_avatar(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    image = await alice.upload(picture(60, 60), "photo.png", "image", "image/png")
    for url, words in (
        (image["url"], "upload avatars with kind=avatar"),
        ("/files/" + "0" * 32, "no such upload"),
        ("/files/../secret", "must be /files/<id>"),
    ):
        with pytest.raises(ApiError) as caught:
            await alice.request("PATCH", "/users/me", json={"avatar_url": url})
        assert (caught.value.status, caught.value.code) == (422, "invalid_request")
        assert words in caught.value.message
    elsewhere = "https://example.org/me.png"
    me = await alice.request("PATCH", "/users/me", json={"avatar_url": elsewhere})
    assert me["avatar_url"] == elsewhere
    assert (await alice.request("PATCH", "/users/me", json={"avatar_url": ""}))["avatar_url"] == ""


async def test_group_avatars_are_uploaded_too(make_client: MakeClient) -> None:
    owner = await make_client()
    member = await make_client()
    group = await make_group(owner, [member])
    stored = await owner.upload(picture(300, 300), "team.png", "avatar", "image/png")
    updated = await owner.request(
        "PATCH", f"/groups/{group['id']}", json={"avatar_url": stored["url"]}
    )
    assert updated["avatar_url"] == stored["url"]
    await expect_event(member, "group_updated", change="avatar_changed")
    seen = await member.request("GET", f"/groups/{group['id']}")
    assert seen["avatar_url"] == stored["url"]
    with pytest.raises(ApiError) as caught:
        await member.request("PATCH", f"/groups/{group['id']}", json={"avatar_url": stored["url"]})
    assert caught.value.code == "not_admin"
    photo = await owner.upload(picture(60, 60), "photo.png", "image", "image/png")
    with pytest.raises(ApiError) as caught:
        await owner.request("PATCH", f"/groups/{group['id']}", json={"avatar_url": photo["url"]})
    assert (caught.value.status, caught.value.code) == (422, "invalid_request")
