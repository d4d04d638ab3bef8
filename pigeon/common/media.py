"""What an uploaded file is: decoded images with their size and a thumbnail, audio by type.

Image decoding is bounded before it starts: Pillow refuses images over ``max_pixels``
(decompression bombs), and images whose decoded pixels would take more than
``max_decode_bytes`` (width x height x the bytes Pillow keeps per pixel) are refused
with ``image_too_large``. Callers bound how many decodes run at once. Anything Pillow
cannot fully decode is not an image.

Originals lose their identifying metadata (:mod:`pigeon.common.metadata`); an EXIF
orientation is applied to the pixels first, so the picture still shows the right way up.

Avatars are not kept as uploaded: the upright first frame is cut to a centred square and
re-encoded as WebP at a fixed size and as a thumbnail, so they carry no metadata at all and
every client gets the same small files.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from pigeon.common.errors import ImageTooLarge, InvalidImage
from pigeon.common.metadata import strip_metadata

IMAGE_MIMES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
AUDIO_MIMES = frozenset(
    {"audio/webm", "audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/wav", "audio/x-wav"}
)
# Bytes per pixel in Pillow's memory, by mode (anything else: 4, as RGB, RGBA, I and F).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}
_ORIENTATION = 0x0112
MIB = 1024 * 1024


@dataclass(frozen=True)
class ImageInfo:
    mime: str
    width: int
    height: int
    thumbnail: bytes
    # The original without its metadata, when that differs from the file as uploaded.
    cleaned: bytes | None = None


def decoded_bytes(width: int, height: int, mode: str) -> int:
    """The memory the decoded pixels of one frame take."""
    return width * height * _MODE_BYTES.get(mode, 4)


@dataclass(frozen=True)
class Avatar:
    """A square avatar and its thumbnail, both WebP."""

    image: bytes
    thumbnail: bytes
    size: int


AVATAR_MIME = "image/webp"


def inspect_image(
    path: Path,
    max_pixels: int,
    thumbnail_px: int,
    max_decode_bytes: int = 128 * MIB,
    strip: bool = True,
) -> ImageInfo:
    """Decode the image fully, or raise :class:`InvalidImage` (``invalid_image``) or
    :class:`ImageTooLarge` (``image_too_large``)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            fmt = _probe(path, max_pixels, max_decode_bytes)
            mime = IMAGE_MIMES[fmt]
            with Image.open(path) as image:
                image.load()
                orientation = image.getexif().get(_ORIENTATION, 1)
                upright = ImageOps.exif_transpose(image) if orientation != 1 else image
                width, height = upright.size
                thumbnail = _thumbnail(upright, thumbnail_px)
                cleaned = _clean(path, fmt, image, upright) if strip else None
            return ImageInfo(mime, width, height, thumbnail, cleaned)
    except (InvalidImage, ImageTooLarge):
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage(f"not a readable image: {exc}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImage("the image is too large to decode") from None


def make_avatar(
    path: Path,
    max_pixels: int,
    size: int,
    thumbnail_px: int,
    max_decode_bytes: int = 128 * MIB,
) -> Avatar:
    """A square avatar of at most ``size`` pixels a side (a picture that is not square
    loses its edges, one smaller than ``size`` is not enlarged) and its thumbnail; raises
    like :func:`inspect_image`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            _probe(path, max_pixels, max_decode_bytes)
            with Image.open(path) as image:
                image.load()  # the first frame of an animation
                upright = ImageOps.exif_transpose(image)
                mode = "RGBA" if upright.mode in ("P", "PA", "LA", "RGBA") else "RGB"
                frame = upright.convert(mode)
        side = min(frame.width, frame.height, size)
        square = ImageOps.fit(frame, (side, side), Image.Resampling.LANCZOS)
        small = square.resize(
            (min(side, thumbnail_px),) * 2, Image.Resampling.LANCZOS, reducing_gap=2.0
        )
        return Avatar(_webp(square), _webp(small), side)
    except (InvalidImage, ImageTooLarge):
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage(f"not a readable image: {exc}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImage("the image is too large to decode") from None


def _probe(path: Path, max_pixels: int, max_decode_bytes: int) -> str:
    """Refuse what is too large to decode or not a supported format, before decoding it;
    the image's format (Pillow's name)."""
    with Image.open(path) as probe:
        if probe.width * probe.height > max_pixels:
            raise InvalidImage(f"images are limited to {max_pixels} pixels")
        need = decoded_bytes(probe.width, probe.height, probe.mode)
        if need > max_decode_bytes:
            raise ImageTooLarge(
                f"decoding this {probe.width}x{probe.height} image would take "
                f"{need // MIB} MiB; images may take {max_decode_bytes // MIB} MiB"
            )
        fmt = probe.format or ""
        probe.verify()
    if fmt not in IMAGE_MIMES:
        raise InvalidImage(f"{fmt or 'this'} images are not supported")
    return fmt


def _webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.info = {}  # a fresh file: no EXIF, XMP, ICC or comment of the upload's
    image.save(out, "WEBP", quality=85, method=4)
    return out.getvalue()


def _clean(path: Path, fmt: str, image: Image.Image, upright: Image.Image) -> bytes | None:
    """The original without metadata, or None when it had none to remove."""
    original = data = path.read_bytes()
    if upright is not image and getattr(image, "n_frames", 1) == 1:
        # The orientation lived in the EXIF that goes: apply it to the pixels.
        data = _encode(upright, fmt, image)
    cleaned = strip_metadata(data, fmt)
    with Image.open(io.BytesIO(cleaned)) as check:
        check.verify()
    return None if cleaned == original else cleaned


def _encode(upright: Image.Image, fmt: str, source: Image.Image) -> bytes:
    out = io.BytesIO()
    upright.info = {}  # nothing of the original's metadata is carried over
    icc = source.info.get("icc_profile")
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        # The original's quantisation and subsampling: as close to it as re-encoding gets.
        options["qtables"] = getattr(source, "quantization", None) or None
        sampling = JpegImagePlugin.get_sampling(source)
        options["subsampling"] = sampling if sampling >= 0 else 0
    elif fmt == "WEBP":
        options["quality"] = 90
    upright.save(out, fmt, **options)
    return out.getvalue()


def _thumbnail(image: Image.Image, size: int) -> bytes:
    frame = image.convert("RGBA") if image.mode in ("P", "LA", "RGBA") else image.convert("RGB")
    frame.thumbnail((size, size))
    if frame.mode == "RGBA":
        background = Image.new("RGB", frame.size, (255, 255, 255))
        background.paste(frame, mask=frame.getchannel("A"))
        frame = background
    out = io.BytesIO()
    frame.save(out, "JPEG", quality=82, optimize=True)
    return out.getvalue()
