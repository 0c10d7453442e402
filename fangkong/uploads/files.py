"""Checking and cleaning an uploaded file before it is stored.

The type is decided by the file's first bytes (never its name or the client's content
type). Photos (JPEG, PNG, WebP) are decoded and re-encoded with Pillow: the stored image
holds pixels only (no EXIF/GPS, no comment, no trailing payload), rotated as the camera
meant, at most MAX_SIDE pixels on its long side, as JPEG (PNG when it has transparency).
Decompression bombs (a small file declaring a huge image) are refused from the header
before any pixel is decoded. Documents are PDFs, stored as they came (served only as
downloads, never inline).
"""
from __future__ import annotations

import hashlib
import io
import unicodedata
import warnings
from dataclasses import dataclass

from django.utils.translation import gettext as _
from PIL import Image, ImageOps

MAX_SIDE = 2560
THUMB_SIDE = 320
MAX_PIXELS = 50_000_000  # a 50-megapixel photo; anything larger is refused undecoded
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class Rejected(Exception):
    """The file is not what it must be; the message names the problem."""


@dataclass
class Clean:
    data: bytes
    content_type: str
    ext: str
    width: int | None = None
    height: int | None = None
    thumb: bytes | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def sniff(head: bytes) -> str | None:
    """The type that the first bytes announce: JPEG, PNG, WEBP, HEIC, PDF or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis"}:
        return "HEIC"
    if head.startswith(b"%PDF-"):
        return "PDF"
    return None


def clean_name(raw: str, ext: str) -> str:
    """The user's file name as shown and sent back: no path, no control characters, at
    most 100 characters, with the extension of what is actually stored."""
    name = unicodedata.normalize("NFC", str(raw or "")).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in '"<>|:*?').strip(" .")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{(stem or 'file')[:90]}.{ext}"


def read(file, max_bytes: int) -> bytes:
    """The upload's bytes, refusing more than max_bytes without reading further."""
    size = getattr(file, "size", None)
    if size is not None and size > max_bytes:
        raise Rejected(_too_big(max_bytes))
    file.seek(0)
    data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise Rejected(_too_big(max_bytes))
    if not data:
        raise Rejected(_("The file is empty"))
    return data


def _too_big(max_bytes: int) -> str:
    return _("The file is larger than %(mb)d MB") % {"mb": max_bytes // (1024 * 1024)}


def clean(data: bytes, kind: str) -> Clean:
    found = sniff(data[:16])
    if kind == "document":
        if found != "PDF":
            raise Rejected(_("Not a PDF document"))
        return Clean(data, "application/pdf", "pdf")
    if found == "HEIC":
        raise Rejected(_("HEIC photos cannot be read here: choose JPEG (“Most compatible”) in the camera settings, "
                         "or take the photo from this page"))
    if found not in IMAGE_FORMATS:
        raise Rejected(_("Not an image (JPEG, PNG or WebP)"))
    return _reencode(data, found)


def _reencode(data: bytes, fmt: str) -> Clean:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[fmt])
            if im.width * im.height > MAX_PIXELS:
                raise Rejected(_("The image is too large (%(w)d × %(h)d pixels)") % {"w": im.width, "h": im.height})
            if fmt == "JPEG":
                im.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode a large JPEG at a reduced scale
            im.load()
            im = ImageOps.exif_transpose(im)
            alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
            im = im.convert("RGBA" if alpha else "RGB")
            im.info = {}  # pixels only: no comment, ICC profile or other chunk is written back
            im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            full = _encode(im, alpha)
            thumb = im.copy()
            thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
            small = _encode(thumb, alpha)
    except Rejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Rejected(_("The image is too large to be decoded safely")) from None
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError, EOFError):
        raise Rejected(_("The image is damaged or incomplete")) from None
    return Clean(full, "image/png" if alpha else "image/jpeg", "png" if alpha else "jpg", im.width, im.height, small)


def _encode(im, alpha: bool) -> bytes:
    out = io.BytesIO()
    if alpha:
        im.save(out, "PNG", optimize=True)
    else:
        im.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()
