"""The printable health pass card (健康通行卡) as an A6 PDF: title, colour band, masked
name (or plate), serial, validity, issuer, and the QR code of a token valid as long as the
pass — so a gate verifies it offline, and a revoked card is refused through the list.

Fonts and the vector QR come from the documents module (embedded Noto CJK)."""
from __future__ import annotations

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from fpdf import FPDF

from fangkong.documents.pdf import DOCUMENT_LANGUAGE, _qr, add_fonts

COLOURS = {"green": (46, 125, 50), "yellow": (249, 168, 37), "red": (198, 40, 40)}


def render_card(pass_, token: str) -> bytes:
    from .actions import tokens

    colour = tokens.verify(token).colour
    with translation.override(DOCUMENT_LANGUAGE):
        return _render(pass_, token, colour)


def _render(pass_, token: str, colour: str) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format=(105, 148))
    pdf.set_title(f"{_('Health pass card')} {pass_.serial}")
    pdf.set_creator("Fangkong")
    add_fonts(pdf)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    margin, width = 8.0, pdf.w - 16.0

    pdf.set_draw_color(120, 120, 120)
    pdf.rect(4, 4, pdf.w - 8, pdf.h - 8)
    pdf.set_xy(margin, 8)
    pdf.set_font("title", size=20)
    title = {"resident": _("Health pass card"), "visitor": _("Temporary pass"), "vehicle": _("Vehicle pass")}[pass_.kind]
    pdf.cell(width, 11, title, align="C", new_x="LMARGIN", new_y="NEXT")

    r, g, b = COLOURS[colour]
    pdf.set_fill_color(r, g, b)
    pdf.rect(margin, 21, width, 11, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("title", size=15)
    label = {"green": _("Green code"), "yellow": _("Yellow code"), "red": _("Red code")}[colour]
    pdf.set_xy(margin, 21)
    pdf.cell(width, 11, label, align="C")
    pdf.set_text_color(0, 0, 0)

    pdf.set_font("title", size=18)
    pdf.set_xy(margin, 35)
    pdf.cell(width, 9, pass_.masked, align="C")

    qr_size = 54
    _qr(pdf, token, (pdf.w - qr_size) / 2, 46, qr_size)

    pdf.set_font("body", size=9)
    y = 46 + qr_size + 2
    local = timezone.localtime
    rows = [
        (_("Serial"), pass_.serial),
        (pgettext("period", "Valid"), f"{local(pass_.valid_from):%Y-%m-%d} — {local(pass_.valid_until):%Y-%m-%d %H:%M}"),
        (_("Issued by"), pass_.issuer_name),
    ]
    for key, value in rows:
        pdf.set_xy(margin, y)
        pdf.cell(20, 5.5, f"{key}:")
        pdf.cell(width - 20, 5.5, str(value))
        y += 5.5
    pdf.set_font("body", size=7)
    pdf.set_text_color(90, 90, 90)
    pdf.set_xy(margin, pdf.h - 13)
    pdf.multi_cell(width, 3.5, _("Show this card with your ID at the gate. The colour printed is the one of the day of "
                                 "printing; the gate's check shows the colour now."), align="C")
    return bytes(pdf.output())
