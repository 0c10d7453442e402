"""QR codes of the pages and PDFs (error correction M), each made once per text in a
process.

segno, pure Python, chooses the best of the eight mask patterns by scoring each one, as
the standard asks: 8 ms for a link, more for a signed pass token (measured 2026-12-07; in
the access matrix's profile segno's masking was the single largest function, ~7 % of the
pages' time). The same pass, distribution point or post code is shown again and again, so
the code is kept by its text (least recently used, 512 of each). A token or link issued
anew each time (a personal link) is made as before, and takes one place in the cache."""
from __future__ import annotations

from functools import lru_cache

import segno


@lru_cache(maxsize=512)
def make(text: str, *, micro: bool | None = None) -> segno.QRCode:
    """The code of `text`, as segno.make(text, error="m", micro=micro). Not to be changed."""
    return segno.make(text, error="m", micro=micro)


@lru_cache(maxsize=512)
def svg(text: str, *, scale: int, border: int | None = None) -> str:
    """The inline SVG of `text`'s code (segno's svg_inline)."""
    return make(text).svg_inline(scale=scale, border=border)


@lru_cache(maxsize=512)
def modules(text: str, border: int = 2) -> tuple[tuple[bool, ...], ...]:
    """The rows of dark (True) and light modules of `text`'s full-size code, quiet zone
    of `border` modules included (for drawing it in a PDF)."""
    return tuple(tuple(bool(m) for m in row) for row in make(text, micro=False).matrix_iter(scale=1, border=border))
