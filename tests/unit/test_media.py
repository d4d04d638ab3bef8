"""Image handling without a server: metadata stripping and the decoding bounds."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from PIL import Image, PngImagePlugin

from pigeon.actions import uploads
from pigeon.actions.context import Context
from pigeon.common.errors import ImageTooLarge, Unavailable
from pigeon.common.media import ImageInfo, inspect_image
from pigeon.common.metadata import strip_metadata
from pigeon.common.settings import UploadSettings

GPS_IFD = 0x8825
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description photoshop:City="Lyon"/></x:xmpmeta>'


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[0xA431] = "SERIAL-123456"  # body serial number
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (45.0, 45.0, 36.0), 3: "E", 4: (4.0, 50.0, 0.0)})
    return exif


def photo(fmt: str, orientation: int = 1, size: tuple[int, int] = (64, 32)) -> bytes:
    image = Image.new("RGB", size, (10, 120, 200))
    image.paste((250, 20, 20), (0, 0, 8, 8))  # a marker in the top-left corner
    out = io.BytesIO()
    options: dict[str, object] = {"exif": exif_with_gps(orientation).tobytes(), "xmp": XMP}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "taken at home, 12 Rue X")
        info.add_itxt("XML:com.adobe.xmp", XMP.decode())
        options["pnginfo"] = info
    if fmt == "JPEG":
        options["comment"] = b"taken at home"
    image.save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_metadata_is_stripped_and_the_picture_kept(fmt: str) -> None:
    data = photo(fmt)
    assert b"SERIAL-123456" in data
    assert b"Lyon" in data
    cleaned = strip_metadata(data, fmt)
    for secret in (b"SERIAL-123456", b"PhoneMaker", b"Lyon", b"12 Rue X", b"taken at home"):
        assert secret not in cleaned
    with Image.open(io.BytesIO(cleaned)) as image:
        assert GPS_IFD not in image.getexif()
        assert not image.getexif()
        assert image.size == (64, 32)
        with Image.open(io.BytesIO(data)) as original:
            assert image.tobytes() == original.tobytes()  # not re-encoded


def test_gif_comments_and_xmp_go_but_animation_stays() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], loop=0, comment=b"Lyon")
    data = out.getvalue()
    assert b"Lyon" in data
    cleaned = strip_metadata(data, "GIF")
    assert b"Lyon" not in cleaned
    with Image.open(io.BytesIO(cleaned)) as image:
        assert getattr(image, "n_frames", 1) == 3
        assert image.info.get("loop") == 0


def test_an_oriented_jpeg_is_turned_upright_without_its_exif(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(photo("JPEG", orientation=6))  # shown rotated 90 degrees clockwise
    info = inspect_image(path, 40_000_000, 320)
    assert info.cleaned is not None
    assert (info.width, info.height) == (32, 64)
    with Image.open(io.BytesIO(info.cleaned)) as image:
        assert image.size == (32, 64)
        assert not image.getexif()
        assert b"SERIAL-123456" not in info.cleaned
        red, green, _blue = cast(tuple[int, int, int], image.convert("RGB").getpixel((28, 2)))
        assert red > 200 > green  # the top-left marker is now top-right


def test_decoding_is_refused_past_the_memory_budget(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (1200, 1200)).save(path, "PNG")  # 5.5 MiB decoded, a few KiB on disk
    with pytest.raises(ImageTooLarge) as caught:
        inspect_image(path, 40_000_000, 320, max_decode_bytes=4 * 1024 * 1024)
    assert caught.value.status == 413
    assert "5 MiB" in caught.value.message


async def test_decodes_run_a_few_at_a_time(tmp_path: Path) -> None:
    running = peak = 0
    lock = threading.Lock()

    def slow_inspect(*_args: object) -> ImageInfo:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return ImageInfo("image/png", 1, 1, b"")

    settings = SimpleNamespace(uploads=UploadSettings(max_concurrent_decodes=2, decode_wait_s=5))
    ctx = cast(Context, SimpleNamespace(settings=settings, decode_slots=None))
    await asyncio.gather(*(uploads._decode(ctx, slow_inspect, tmp_path) for _ in range(6)))
    assert peak == 2

    settings.uploads.decode_wait_s = 0.01
    results = await asyncio.gather(
        *(uploads._decode(ctx, slow_inspect, tmp_path) for _ in range(4)), return_exceptions=True
    )
    assert any(isinstance(r, Unavailable) for r in results)
