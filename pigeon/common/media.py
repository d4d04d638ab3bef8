"""What an uploaded file is: decoded images with their size and a thumbnail, audio by type.

Image decoding is bounded: Pillow refuses images over ``max_pixels`` (decompression bombs)
and anything it cannot fully decode is not an image.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from pigeon.common.errors import InvalidImage

IMAGE_MIMES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
AUDIO_MIMES = frozenset(
    {"audio/webm", "audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/wav", "audio/x-wav"}
)


@dataclass(frozen=True)
class ImageInfo:
    mime: str
    width: int
    height: int
    thumbnail: bytes


def inspect_image(path: Path, max_pixels: int, thumbnail_px: int) -> ImageInfo:
    """Decode the image fully, or raise :class:`InvalidRequest` with code ``invalid_image``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as probe:
                if probe.width * probe.height > max_pixels:
                    raise InvalidImage(f"images are limited to {max_pixels} pixels")
                fmt = probe.format or ""
                probe.verify()
            with Image.open(path) as image:
                image.load()
                mime = IMAGE_MIMES.get(fmt)
                if mime is None:
                    raise InvalidImage(f"{fmt or 'this'} images are not supported")
                width, height = image.size
                return ImageInfo(mime, width, height, _thumbnail(image, thumbnail_px))
    except InvalidImage:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage(f"not a readable image: {exc}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImage("the image is too large to decode") from None


def _thumbnail(image: Image.Image, size: int) -> bytes:
    frame = ImageOps.exif_transpose(image) or image
    frame = frame.convert("RGBA") if frame.mode in ("P", "LA", "RGBA") else frame.convert("RGB")
    frame.thumbnail((size, size))
    if frame.mode == "RGBA":
        background = Image.new("RGB", frame.size, (255, 255, 255))
        background.paste(frame, mask=frame.getchannel("A"))
        frame = background
    out = io.BytesIO()
    frame.save(out, "JPEG", quality=82, optimize=True)
    return out.getvalue()
