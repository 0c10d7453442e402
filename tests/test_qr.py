"""fangkong.lib.qr keeps each text's QR code: what it gives is what segno makes."""
import segno

from fangkong.lib import qr

TEXTS = ["P1", "https://fk.example.cn/d/p/ABCD2345/", "eyJ0IjoicGFzcyJ9." + "x" * 160]


def test_kept_codes_are_segnos():
    for text in TEXTS:
        for scale, border in ((5, None), (4, 2), (8, 2)):
            assert qr.svg(text, scale=scale, border=border) == segno.make(text, error="m").svg_inline(scale=scale, border=border)
        rows = [tuple(bool(m) for m in row) for row in segno.make(text, error="m", micro=False).matrix_iter(scale=1, border=2)]
        assert list(qr.modules(text)) == rows
    assert segno.make(TEXTS[0], error="m").is_micro  # a short text: a Micro QR on pages, as segno chooses
    assert not qr.make(TEXTS[0], micro=False).is_micro  # and a full-size code in PDFs


def test_a_text_is_encoded_once():
    qr.make.cache_clear()
    qr.svg.cache_clear()
    first = qr.svg("https://fk.example.cn/d/p/kept/", scale=5)
    assert qr.svg("https://fk.example.cn/d/p/kept/", scale=5) is first
    assert qr.make.cache_info().misses == 1
    qr.svg("https://fk.example.cn/d/p/kept/", scale=6)  # another size of the same code
    assert qr.make.cache_info().misses == 1
