"""Removing identifying metadata from image files without decoding them again.

Photos carry where they were taken (EXIF GPS), the camera's serial number, the editing
software's history (XMP), captions and names (IPTC) and comments. These functions walk the
file's container (JPEG segments, PNG chunks, WebP RIFF chunks, GIF blocks) and copy what
draws the picture (pixels, palettes, colour profiles, animation) and nothing else: the
pixels are not re-encoded, so nothing is lost. Data after the image's end (a second
picture, a phone's motion clip) is dropped too. A file that does not parse raises
:class:`ValueError`.
"""

from __future__ import annotations

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Text (which holds XMP as well), EXIF and the modification time.
_PNG_DROP = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"})
_GIF_ANIMATION = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def strip_metadata(data: bytes, fmt: str) -> bytes:
    """The file without its metadata; ``fmt`` is Pillow's name of the format."""
    if fmt == "JPEG":
        return strip_jpeg(data)
    if fmt == "PNG":
        return strip_png(data)
    if fmt == "WEBP":
        return strip_webp(data)
    if fmt == "GIF":
        return strip_gif(data)
    raise ValueError(f"no metadata stripper for {fmt}")


def strip_jpeg(data: bytes) -> bytes:
    """Keep JFIF, ICC profiles, Adobe colour transforms and every coding segment; drop
    EXIF and XMP (APP1), IPTC (APP13), comments and the other application segments."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    out = [data[:2]]
    i = 2
    while True:
        if i + 4 > len(data) or data[i] != 0xFF:
            raise ValueError("truncated JPEG")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:
            out.append(data[i : i + 2])
            return b"".join(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(data[i : i + 2])
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > len(data):
            raise ValueError("truncated JPEG segment")
        segment = data[i : i + 2 + length]
        if marker == 0xDA:
            # Start of scan: entropy-coded data (0xFF is always stuffed there) and further
            # scans run to the end-of-image marker; whatever follows it is dropped.
            end = data.find(b"\xff\xd9", i + 2 + length)
            if end < 0:
                raise ValueError("JPEG without an end")
            out.append(data[i : end + 2])
            return b"".join(out)
        if _keep_jpeg_segment(marker, segment[4:]):
            out.append(segment)
        i += 2 + length


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    if marker == 0xFE:  # comment
        return False
    if 0xE0 <= marker <= 0xEF:
        return (
            (marker == 0xE0 and payload[:5] in (b"JFIF\x00", b"JFXX\x00"))
            or (marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"))
            or (marker == 0xEE and payload.startswith(b"Adobe"))
        )
    return True


def strip_png(data: bytes) -> bytes:
    """Drop text, XMP, EXIF and time chunks; keep the rest (colour, animation)."""
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    out = [_PNG_SIGNATURE]
    i = len(_PNG_SIGNATURE)
    while True:
        if i + 12 > len(data):
            raise ValueError("truncated PNG")
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > len(data):
            raise ValueError("truncated PNG chunk")
        if kind not in _PNG_DROP:
            out.append(data[i:end])
        if kind == b"IEND":
            return b"".join(out)
        i = end


def strip_webp(data: bytes) -> bytes:
    """Drop the EXIF and XMP chunks (and their flags in the extended header)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP")
    end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    chunks = []
    i = 12
    while i < end:
        if i + 8 > end:
            raise ValueError("truncated WebP")
        kind = data[i : i + 4]
        size = int.from_bytes(data[i + 4 : i + 8], "little")
        stop = i + 8 + size + (size & 1)
        if i + 8 + size > end:
            raise ValueError("truncated WebP chunk")
        chunk = data[i:stop]
        if kind == b"VP8X" and size >= 1:
            flags = chunk[8] & ~0x0C  # EXIF (0x08) and XMP (0x04) present
            chunk = chunk[:8] + bytes([flags]) + chunk[9:]
        if kind not in (b"EXIF", b"XMP "):
            chunks.append(chunk)
        i = stop
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def strip_gif(data: bytes) -> bytes:
    """Drop comments and application extensions other than the animation loop (XMP lives
    in one)."""
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise ValueError("not a GIF")
    i = 13 + _colour_table(data[10])
    out = [data[:i]]
    while True:
        if i >= len(data):
            raise ValueError("truncated GIF")
        block = data[i]
        if block == 0x3B:
            out.append(b"\x3b")
            return b"".join(out)
        if block == 0x2C:
            if i + 10 > len(data):
                raise ValueError("truncated GIF image")
            start = i
            i = _sub_blocks(data, i + 10 + _colour_table(data[i + 9]) + 1)
            out.append(data[start:i])
        elif block == 0x21:
            if i + 2 > len(data):
                raise ValueError("truncated GIF extension")
            start, label = i, data[i + 1]
            i = _sub_blocks(data, i + 2)
            application = data[start + 3 : start + 14]
            if label == 0xFE or (label == 0xFF and application not in _GIF_ANIMATION):
                continue
            out.append(data[start:i])
        else:
            raise ValueError("bad GIF block")


def _colour_table(packed: int) -> int:
    return 3 * (2 ** ((packed & 7) + 1)) if packed & 0x80 else 0


def _sub_blocks(data: bytes, i: int) -> int:
    """The offset after the data sub-blocks starting at ``i``."""
    while True:
        if i >= len(data):
            raise ValueError("truncated GIF data")
        size = data[i]
        i += 1 + size
        if size == 0:
            return i
