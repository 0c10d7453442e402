"""PDF rendering of a Document, laid out like a Chinese official notice: serial number top
right, the title centred, a body paragraph, the table of fields, the issuer and the date
bottom right, and a QR code with the absolute verify URL (扫码核验真伪).

fpdf2 embeds a subset of an OpenType CJK font (Noto CJK's CFF outlines included, as a CID
font), so the text is real text, correct in any viewer, and a notice stays ~30 KB. The
font is FANGKONG_PDF_FONT, else the Noto CJK an offline bundle installed into this Python's
environment (share/fangkong/fonts: scripts/bundle), else the system Noto CJK (Debian:
fonts-noto-cjk); without a CJK font, rendering fails with FontMissing naming both.
"""
from __future__ import annotations

import copy
import logging
import re
import threading
import shutil
import subprocess
import sys
import zlib
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from fpdf import FPDF
from fpdf.fonts import FontFace

from fangkong.lib.qr import modules as qr_modules

logging.getLogger("fontTools").setLevel(logging.WARNING)  # its subsetter logs every glyph at INFO

NOTO = Path("/usr/share/fonts/opentype/noto")
BUNDLED = Path(sys.prefix) / "share" / "fangkong" / "fonts"  # the offline bundle's copy (scripts/bundle-install.sh)
BODY_FONTS = [BUNDLED / "NotoSansCJK-Regular.ttc", NOTO / "NotoSansCJK-Regular.ttc", NOTO / "NotoSerifCJK-Regular.ttc",
              Path("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf"),
              Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")]
TITLE_FONTS = [BUNDLED / "NotoSerifCJK-Bold.ttc", NOTO / "NotoSerifCJK-Bold.ttc", NOTO / "NotoSansCJK-Bold.ttc"]
DOCUMENT_LANGUAGE = "zh-hans"  # an official notice is printed in Chinese whatever the UI language
CACHE_SECONDS = 3600


class FontMissing(ImproperlyConfigured):
    """No usable CJK font: install fonts-noto-cjk or set FANGKONG_PDF_FONT."""


@lru_cache(maxsize=16)
def _face(path: str) -> int | None:
    """Index of the Simplified Chinese face in a font collection (0 for a single font);
    None if the font has no Chinese glyphs."""
    from fontTools.ttLib import TTCollection, TTFont

    try:
        if path.lower().endswith((".ttc", ".otc")):
            fonts = list(TTCollection(path, lazy=True).fonts)
        else:
            fonts = [TTFont(path, lazy=True)]
    except Exception:
        return None
    scored = []
    for i, font in enumerate(fonts):
        cmap = font.getBestCmap() or {}
        if ord("审") not in cmap or ord("通") not in cmap:
            continue
        family = font["name"].getDebugName(1) or ""
        scored.append((0 if ("SC" in family.split() or family.endswith(" SC") or "GB" in family) else 1, i))
    return min(scored)[1] if scored else None


def _fc_match() -> str | None:
    if not shutil.which("fc-match"):
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@lru_cache(maxsize=4)
def fonts(override: str = "") -> dict[str, tuple[str, int]]:
    """{"body": (path, face index), "title": (...)} — FANGKONG_PDF_FONT for both if set."""
    if override:
        face = _face(override)
        if face is None:
            raise FontMissing(f"FANGKONG_PDF_FONT={override} is not a font with Chinese glyphs")
        return {"body": (override, face), "title": (override, face)}
    found = {}
    for role, candidates in (("body", BODY_FONTS), ("title", TITLE_FONTS)):
        for path in candidates:
            if path.is_file() and (face := _face(str(path))) is not None:
                found[role] = (str(path), face)
                break
    if "body" not in found:
        path = _fc_match()
        if path and (face := _face(path)) is not None:
            found["body"] = (path, face)
    if "body" not in found:
        raise FontMissing("No Chinese (CJK) font found for PDF documents: install fonts-noto-cjk "
                          "(apt-get install fonts-noto-cjk) or set FANGKONG_PDF_FONT to a .ttf/.otf/.ttc with Chinese glyphs")
    found.setdefault("title", found["body"])
    return found


_KEPT: dict[tuple, object] = {}
_KEPT_LOCK = threading.Lock()


def add_fonts(pdf: FPDF) -> None:
    """Add the CJK fonts "body" and "title" (fonts()) to `pdf`, as fpdf2's add_font would,
    from a copy of the font this process parsed the first time.

    Why not add_font each time: fpdf2 parses the font file and computes the width of each of
    its ~65,000 glyphs for every PDF (Noto CJK: 0.29–0.36 s a face, two faces a PDF), and
    then subsets it when the PDF is written (0.36–0.39 s a face); a one-page pass card took
    1.3–1.4 s (measured 2026-12-07, fpdf2 2.8.9, this machine), half of it in add_font. The
    parsed metrics (cmap, glyph ids, widths, descriptor) do not change from one PDF to the
    next; only what a PDF changes is made anew: the fontTools font the subsetter cuts
    down in place (opened lazily: its tables are read as the subsetter asks), the widths
    (a defaultdict that grows as characters are measured), the glyph subset, the missing
    glyphs, and the font descriptor (writing the PDF gives it an object number and its
    font file). This follows the split fpdf2's own TTFFont.__deepcopy__ makes between
    what two recorders of one PDF may share and what they may not; the descriptor, which
    those share, is copied here because two PDFs are written apart. tests/test_documents.py checks that a
    PDF made this way is byte for byte the one add_font makes (so an fpdf2 upgrade that
    changes TTFFont shows there).

    Memory: the kept metrics of the two faces hold ~29 MB in each process that has made a
    PDF (tracemalloc, after gc: 47 MB against 18 MB with add_font); making one PDF
    allocates ~118 MB for a moment either way (fontTools decoding the font)."""
    from fontTools.ttLib import TTFont
    from fpdf.fonts import SubsetMap

    f = fonts(settings.PDF_FONT)
    for family in ("body", "title"):
        path, number = f[family]
        key = (family, path, number)
        kept = _KEPT.get(key)
        if kept is None:
            with _KEPT_LOCK:
                kept = _KEPT.get(key)
                if kept is None:
                    scratch = FPDF()
                    scratch.add_font(family, fname=path, collection_font_number=number)
                    kept = scratch.fonts[family]
                    kept.ttfont.close()  # each copy opens its own: its decoded tables were ~70 MB kept
                    kept.ttfont = None
                    _KEPT[key] = kept
        font = copy.copy(kept)
        font.i = len(pdf.fonts) + 1
        font.ttfont = TTFont(path, recalcTimestamp=False, fontNumber=number, lazy=True)
        font.cw = kept.cw.copy()
        font.desc = copy.copy(kept.desc)  # writing the PDF numbers it and names its font file in it
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font._hbfont = None
        font.subset = SubsetMap(font)
        pdf.fonts[font.fontkey] = font
        if font.is_cff and font.is_cid_keyed:
            pdf._set_min_pdf_version("1.6")


def blank_pdf(title: str, format="A4") -> FPDF:
    """An empty PDF with the CJK fonts "body" and "title" added (for other modules' sheets)."""
    pdf = FPDF(orientation="P", unit="mm", format=format)
    pdf.set_title(title)
    pdf.set_creator("Fangkong")
    add_fonts(pdf)
    return pdf


def cn_date(value) -> str:
    d = timezone.localdate(value) if hasattr(value, "tzinfo") else value
    return _("%(year)d-%(month)d-%(day)d") % {"year": d.year, "month": d.month, "day": d.day}


def _qr(pdf: FPDF, url: str, x: float, y: float, size: float, *, keep: bool = True) -> None:
    """The QR code as vector squares (crisp at any zoom and print resolution); keep=False
    for a code printed once (fangkong.lib.qr)."""
    rows = qr_modules(url, border=2, keep=keep)
    module = size / len(rows)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    pdf.set_fill_color(0, 0, 0)
    for j, row in enumerate(rows):
        i = 0
        while i < len(row):
            if row[i]:
                start = i
                while i < len(row) and row[i]:
                    i += 1
                pdf.rect(x + start * module, y + j * module, (i - start) * module, module + 0.02, style="F")
            else:
                i += 1


# Chinese line breaking (禁则): these never start a line; they hang at the end of the line before.
_NO_LINE_START = set("，。、；：？！）》」』”’〕】%·…—,.;:?!)]")
_TOKEN = re.compile(r"[A-Za-z0-9*\-_/.:]+|.", re.S)


def _wrap(pdf: FPDF, text: str, width: float, indent: float = 0) -> list[str]:
    """Lines of `text` within `width` (the first `indent` narrower), breaking between any two
    Chinese characters but never inside a Latin/number run (a serial, an ID) and never
    before a closing punctuation mark."""
    lines, cur, avail = [], "", width - indent
    for tok in _TOKEN.findall(text):
        if cur and pdf.get_string_width(cur + tok) > avail:
            if tok in _NO_LINE_START:
                lines.append(cur + tok)
                cur, avail = "", width
                continue
            lines.append(cur)
            cur, avail = tok, width
        else:
            cur += tok
    if cur:
        lines.append(cur)
    return lines


def render_pdf(document) -> bytes:
    """The document as an A4 PDF (bytes)."""
    with translation.override(DOCUMENT_LANGUAGE):
        return _render(document)


def cached_pdf(document) -> bytes:
    """render_pdf, kept in the cache for an hour under the content hash and validity."""
    key = f"documents:pdf:{document.pk}:{document.sha256}:{int(document.valid)}:{zlib.crc32(settings.PUBLIC_URL.encode()):08x}"
    data = cache.get(key)
    if data is None:
        data = render_pdf(document)
        cache.set(key, data, CACHE_SECONDS)
    return data


def _render(doc) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(f"{doc.title} {doc.shown_serial}")
    pdf.set_creator("Fangkong")
    pdf.set_author(doc.issuer)
    add_fonts(pdf)
    margin = 25.0
    pdf.set_margins(margin, 20, margin)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    width = pdf.w - 2 * margin

    if not doc.valid:  # a revoked notice says so on its face
        pdf.set_text_color(200, 0, 0)
        pdf.set_font("title", size=16)
        pdf.set_xy(margin, 14)
        pdf.cell(60, 8, _("REVOKED (void)"))
        pdf.set_text_color(0, 0, 0)

    pdf.set_font("body", size=10.5)
    pdf.set_xy(margin, 14)
    # The serial at the top: the issuer's own number as it writes it (〔2020〕3号), else the registry's.
    pdf.cell(width, 8, doc.number or _("No. %(serial)s") % {"serial": doc.serial}, align="R")

    pdf.set_xy(margin, 30)
    pdf.set_font("title", size=22)
    pdf.multi_cell(width, 12, doc.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    pdf.set_font("body", size=12)
    if doc.body:  # paragraphs with the customary two-character first-line indent
        for para in doc.body.splitlines():
            if para.strip():
                for i, line in enumerate(_wrap(pdf, para.strip(), width, indent=24 * 25.4 / 72)):
                    pdf.set_x(margin + (24 * 25.4 / 72 if i == 0 else 0))
                    pdf.cell(width, 8, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)

    if doc.fields:
        label_style = FontFace(fill_color=(238, 238, 238))
        with pdf.table(col_widths=(42, width - 42), width=width, line_height=8, first_row_as_headings=False,
                       text_align=("CENTER", "LEFT"), padding=(1.5, 2.5)) as table:
            for label, value in doc.fields:
                row = table.row()
                row.cell(str(label), style=label_style)
                row.cell(str(value))

    # Issuer and date (right), QR code and caption (left), kept together on one page.
    block = 48
    if pdf.get_y() + 14 + block > pdf.h - 20:
        pdf.add_page()
    top = pdf.get_y() + 14
    qr_size = 32
    _qr(pdf, doc.verify_url(), margin, top, qr_size)
    pdf.set_font("body", size=9.5)
    pdf.set_xy(margin - 4, top + qr_size + 1)
    pdf.cell(qr_size + 8, 5, _("Scan to verify authenticity"), align="C")

    sign_w = 80
    pdf.set_font("body", size=13)
    pdf.set_xy(pdf.w - margin - sign_w, top + 8)
    pdf.multi_cell(sign_w, 8, doc.issuer, align="C", new_x="LEFT", new_y="NEXT")
    pdf.cell(sign_w, 8, cn_date(doc.issued_at), align="C")

    pdf.set_auto_page_break(False)  # the footer lies in the bottom margin
    pdf.set_font("body", size=7.5)
    pdf.set_text_color(90, 90, 90)
    pdf.set_xy(margin, pdf.h - 16)
    pdf.cell(width, 4, _("Verify at %(url)s") % {"url": doc.verify_url()}, align="L")
    pdf.set_xy(margin, pdf.h - 12)
    pdf.cell(width, 4, _("Content fingerprint (SHA-256) %(digest)s") % {"digest": doc.sha256[:32]}, align="L")
    if doc.number:  # the registry's serial, as the verify page shows it
        pdf.set_xy(margin, pdf.h - 8)
        pdf.cell(width, 4, _("Registry serial %(serial)s") % {"serial": doc.serial}, align="L")
    return bytes(pdf.output())
