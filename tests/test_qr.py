"""fangkong.lib.qr keeps the QR codes of texts shown again and again, not of those shown
once: what it gives is what segno makes."""
import segno

from fangkong.lib import qr

TEXTS = ["P1", "https://fk.example.cn/d/p/ABCD2345/", "eyJ0IjoicGFzcyJ9." + "x" * 160]


def test_codes_are_segnos_kept_or_not():
    for text in TEXTS:
        for keep in (True, False):
            for scale, border in ((5, None), (4, 2), (8, 2)):
                assert qr.svg(text, scale=scale, border=border, keep=keep) == \
                    segno.make(text, error="m").svg_inline(scale=scale, border=border)
            rows = [tuple(bool(m) for m in row) for row in segno.make(text, error="m", micro=False).matrix_iter(scale=1, border=2)]
            assert list(qr.modules(text, keep=keep)) == rows
    assert segno.make(TEXTS[0], error="m").is_micro  # a short text: a Micro QR on pages, as segno chooses
    assert len(qr.modules(TEXTS[0])) >= 21 + 4  # and a full-size code (21 modules at least) in PDFs


def test_a_kept_text_is_encoded_once_and_a_text_shown_once_is_not_kept():
    qr._kept.cache_clear()
    qr._kept_svg.cache_clear()
    first = qr.svg("https://fk.example.cn/d/p/kept/", scale=5)
    assert qr.svg("https://fk.example.cn/d/p/kept/", scale=5) is first
    qr.svg("https://fk.example.cn/d/p/kept/", scale=6)  # another size of the same code
    assert qr._kept.cache_info().misses == 1 and qr._kept.cache_info().currsize == 1
    qr.svg("https://fk.example.cn/r/one-time-secret/", scale=5, keep=False)
    qr.modules("https://fk.example.cn/l/one-time-secret/", keep=False)
    assert qr._kept.cache_info().currsize == 1 and qr._kept_svg.cache_info().currsize == 2
