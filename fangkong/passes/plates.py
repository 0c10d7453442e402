"""Chinese vehicle number plates (机动车号牌, GA 36-2018): normalization and masking.

Accepted forms (after removing spaces, dots and dashes, full-width to half-width, upper case):

* 7 characters, the ordinary plate: province abbreviation (京, 鲁, 粤, ...), the issuing
  authority's letter (A–Z, not I or O), then 5 letters or digits (not I or O);
  e.g. 鲁E12345, 京A·B1234.
* 8 characters, the new-energy plate (新能源号牌), D = pure electric, F = other:
  - small vehicles: province, letter, then D or F, then a letter or digit, then 4 digits
    (鲁ED12345, 粤BDA1234, 京AF01234);
  - large vehicles: province, letter, then 5 digits, then D or F (鲁E12345D).

Plates of other kinds (military, embassy, Hong Kong/Macao, trailer 挂, coach 学, police 警)
are not accepted here: gates register them by hand.
"""
from __future__ import annotations

import re
import unicodedata

from django.utils.translation import gettext_noop as _  # marked for the catalogue; callers translate

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
_ALNUM = _LETTER + "0123456789"
_SEPARATORS = re.compile(r"[\s·•．.\-_]+")

_ORDINARY = re.compile(f"^[{PROVINCES}][{_LETTER}][{_ALNUM}]{{5}}$")
_NEV_SMALL = re.compile(f"^[{PROVINCES}][{_LETTER}][DF][{_ALNUM}][0-9]{{4}}$")
_NEV_LARGE = re.compile(f"^[{PROVINCES}][{_LETTER}][0-9]{{5}}[DF]$")


class PlateError(ValueError):
    """Not a valid plate; str() is a clear, user-facing reason (English; translated by callers
    through the passes catalogue)."""


def normalize_plate(text: str) -> str:
    """The plate in canonical form (鲁E12345, 鲁ED12345, 鲁E12345D) or PlateError (a ValueError)."""
    if text is None:
        raise PlateError(_("Enter the plate number"))
    s = unicodedata.normalize("NFKC", str(text)).strip().upper()
    s = _SEPARATORS.sub("", s)
    if not s:
        raise PlateError(_("Enter the plate number"))
    if s[0] not in PROVINCES:
        raise PlateError(_("A plate starts with a province abbreviation such as 京 or 鲁"))
    if len(s) not in (7, 8):
        raise PlateError(_("A plate has 7 characters (8 for new-energy vehicles)"))
    if s[1] not in _LETTER:
        raise PlateError(_("The second character of a plate is a letter (not I or O)"))
    if "I" in s or "O" in s:
        raise PlateError(_("Plates never contain the letters I or O"))
    if len(s) == 7:
        if not _ORDINARY.match(s):
            raise PlateError(_("After the province and letter a plate has 5 letters or digits"))
        return s
    if _NEV_SMALL.match(s) or _NEV_LARGE.match(s):
        return s
    raise PlateError(_("A new-energy plate has D or F as its third character followed by a letter or digit and 4 digits, "
                       "or 5 digits followed by D or F"))


def is_plate(text: str) -> bool:
    try:
        normalize_plate(text)
    except ValueError:
        return False
    return True


def mask_plate(plate: str) -> str:
    """鲁E12345 -> 鲁E·***45; 鲁ED12345 -> 鲁E·****45 (province, letter and the last two kept)."""
    if not plate:
        return ""
    if len(plate) < 5:
        return "*" * len(plate)
    return f"{plate[:2]}·{'*' * (len(plate) - 4)}{plate[-2:]}"
