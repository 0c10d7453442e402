"""Vehicle plates (GA 36-2018): normalization and masking, with property tests."""
from __future__ import annotations

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from fangkong.passes.plates import PROVINCES, mask_plate, normalize_plate

LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"
province = st.sampled_from(PROVINCES)
letter = st.sampled_from(LETTERS)
alnum = st.sampled_from(LETTERS + DIGITS)
digit = st.sampled_from(DIGITS)


def _join(*parts):
    return st.tuples(*parts).map("".join)


ordinary = _join(province, letter, alnum, alnum, alnum, alnum, alnum)
nev_small = _join(province, letter, st.sampled_from("DF"), alnum, digit, digit, digit, digit)
nev_large = _join(province, letter, digit, digit, digit, digit, digit, st.sampled_from("DF"))
valid = st.one_of(ordinary, nev_small, nev_large)


@pytest.mark.parametrize("raw,plate", [
    ("鲁E12345", "鲁E12345"), ("鲁e 12345", "鲁E12345"), ("京A·B1234", "京AB1234"), ("京Ａ－Ｂ１２３４", "京AB1234"),
    ("粤BD12345", "粤BD12345"), ("粤BDA1234", "粤BDA1234"), ("沪AF01234", "沪AF01234"), ("鲁E12345D", "鲁E12345D"),
])
def test_known_plates(raw, plate):
    assert normalize_plate(raw) == plate


@pytest.mark.parametrize("raw,words", [
    ("", "Enter"), ("E12345", "province"), ("鲁E1234", "7 characters"), ("鲁E123456789", "7 characters"),
    ("鲁112345", "second character"), ("鲁EO1234", "I or O"), ("鲁IA1234", "second character"),
    ("鲁E1234Z5", "new-energy"), ("鲁EA12345", "new-energy"), ("鲁ED1A345", "new-energy"), ("鲁E1234DD", "new-energy"),
    ("鲁E12#45", "5 letters or digits"), ("港A12345", "province"),
])
def test_bad_plates_say_why(raw, words):
    with pytest.raises(ValueError) as exc:
        normalize_plate(raw)
    assert words in str(exc.value)


@given(valid)
@hsettings(max_examples=300)
def test_valid_plates_are_fixed_points_and_separators_do_not_matter(plate):
    assert normalize_plate(plate) == plate
    spaced = f" {plate[:2].lower()}·{plate[2:].lower()} "
    assert normalize_plate(spaced) == plate
    masked = mask_plate(plate)
    assert masked.startswith(plate[:2] + "·") and masked.endswith(plate[-2:]) and plate[2:-2] not in masked[3:]


@given(st.text(max_size=12))
@hsettings(max_examples=500)
def test_anything_else_is_refused_with_a_value_error_or_is_a_valid_plate(text):
    try:
        plate = normalize_plate(text)
    except ValueError as exc:
        assert str(exc)
        return
    assert len(plate) in (7, 8) and plate[0] in PROVINCES and "I" not in plate and "O" not in plate
    assert normalize_plate(plate) == plate


@given(valid, st.integers(min_value=2, max_value=7), st.sampled_from("IO"))
def test_i_and_o_are_never_accepted(plate, pos, bad):
    pos = min(pos, len(plate) - 1)
    with pytest.raises(ValueError):
        normalize_plate(plate[:pos] + bad + plate[pos + 1:])
