"""QR codes of the pages and PDFs (error correction M); a code whose text is shown again
and again is made once per process.

segno, pure Python, chooses the best of the eight mask patterns by scoring each one, as
the standard asks: 8 ms for a link, more for a signed pass token (measured 2026-12-07; in
the access matrix's profile segno's masking was the single largest function). A
distribution point's address, a post's code, a disinfection target's address, a printed
pass card's token and a notice's verify address do not change: those codes are kept by
their text (least recently used, 512). A code shown once (a personal link, a one-time
sign-in code, a visitor's pass, a phone pass token expiring in minutes) is made each time
with keep=False: keeping it would only hold a secret in memory."""
from __future__ import annotations

from functools import lru_cache

import segno


def _make(text: str, micro: bool | None) -> segno.QRCode:
    return segno.make(text, error="m", micro=micro)


_kept = lru_cache(maxsize=512)(_make)


def svg(text: str, *, scale: int, border: int | None = None, keep: bool = True) -> str:
    """The inline SVG of `text`'s code, as segno.make(text, error="m").svg_inline(...)."""
    if not keep:
        return _make(text, None).svg_inline(scale=scale, border=border)
    return _kept_svg(text, scale, border)


@lru_cache(maxsize=512)
def _kept_svg(text: str, scale: int, border: int | None) -> str:
    return _kept(text, None).svg_inline(scale=scale, border=border)


def modules(text: str, border: int = 2, *, keep: bool = True) -> tuple[tuple[bool, ...], ...]:
    """The rows of dark (True) and light modules of `text`'s full-size code, quiet zone
    of `border` modules included (for drawing it in a PDF)."""
    if not keep:
        return _rows(_make(text, False), border)
    return _kept_modules(text, border)


@lru_cache(maxsize=512)
def _kept_modules(text: str, border: int) -> tuple[tuple[bool, ...], ...]:
    return _rows(_kept(text, False), border)


def _rows(code: segno.QRCode, border: int) -> tuple[tuple[bool, ...], ...]:
    return tuple(tuple(bool(m) for m in row) for row in code.matrix_iter(scale=1, border=border))
