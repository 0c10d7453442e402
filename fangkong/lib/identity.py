"""Validation, normalization and masking of national ID and phone numbers.

ID numbers (居民身份证号码) are checked with python-stdnum: length, digits, checksum,
birth date and region code valid at the birth year.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import lru_cache

from django.utils.translation import gettext_lazy as _
from stdnum.cn import ric


class IdentityError(ValueError):
    """A value failed validation; `message` is user-facing and localizable."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@lru_cache(maxsize=8192)
def _region_ok(prefix: str) -> bool:
    """The six-digit region code is one python-stdnum's region table knows.

    stdnum's own get_birth_place() also demands that the county existed in the birth
    year. Real numbers break that rule: numbers were issued from 1984 on with the code of
    the place of registration then, so a person born in 1950 in 历下区 (created 1983)
    carries 370102. We accept a code known in any period.
    """
    from stdnum import numdb

    info = {k: v for _part, props in numdb.get("cn/loc").info(prefix) for k, v in props.items()}
    return bool(info.get("county"))


def normalize_id(raw: str) -> str:
    """Return the 18-character ID in canonical form or raise IdentityError."""
    if raw is None:
        raise IdentityError(_("ID number is required"))
    # Full-width digits, letters and spaces (typed with a Chinese input method) are the
    # same characters to a person: NFKC reads them as ASCII.
    s = unicodedata.normalize("NFKC", str(raw)).strip().replace(" ", "").upper()
    if not s:
        raise IdentityError(_("ID number is required"))
    if len(s) != 18:
        raise IdentityError(_("ID number must have 18 characters, got %(n)d") % {"n": len(s)})
    if not s.isascii() or not s[:17].isdigit() or not (s[17].isdigit() or s[17] == "X"):
        raise IdentityError(_("ID number may contain only digits and a final X"))
    if ric.calc_check_digit(s) != s[17]:
        raise IdentityError(_("ID number checksum is wrong"))
    try:
        birth = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        raise IdentityError(_("ID number contains an impossible birth date")) from None
    if birth > dt.date.today() or birth.year < 1880:
        raise IdentityError(_("ID number contains an impossible birth date"))
    if not _region_ok(s[:6]):
        raise IdentityError(_("ID number has an unknown region code %(code)s") % {"code": s[:6]})
    return s


def birth_date_from_id(id_number: str) -> dt.date:
    return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def sex_from_id(id_number: str) -> str:
    return "M" if int(id_number[16]) % 2 else "F"


_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")


def normalize_phone(raw: str) -> str:
    """Mainland mobile (11 digits) or landline with area code; +86 / 86 prefix dropped."""
    if raw is None:
        raise IdentityError(_("Phone number is required"))
    s = re.sub(r"[\s\-()]", "", unicodedata.normalize("NFKC", str(raw)).strip())  # NFKC: full-width as ASCII
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("86") and len(s) == 13:
        s = s[2:]
    if not s:
        raise IdentityError(_("Phone number is required"))
    if s.isascii() and (_MOBILE.match(s) or _LANDLINE.match(s)):
        return s
    raise IdentityError(_("Phone number is not a valid mainland mobile or landline number"))


def mask_id(id_number: str) -> str:
    if not id_number:
        return ""
    return id_number[:6] + "*" * 8 + id_number[-4:]


def mask_phone(phone: str) -> str:
    if not phone:
        return ""
    if len(phone) == 11 and phone.startswith("1"):
        return phone[:3] + "****" + phone[-4:]
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


# Numbers that look like a national ID or a mobile phone inside free text (addresses, notes,
# messages). Look-arounds instead of \b: Chinese characters count as word characters, so
# "联系13812345678" has no word boundary before the number.
_ID_IN_TEXT = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?![\dXx])")
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_name(name: str) -> str:
    """季小明 -> 季*明, 张三 -> 张*, 欧阳娜娜 -> 欧**娜."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_numbers(text: str) -> str:
    """`text` with every ID- or phone-like number masked (370102********1234, 138****5678)."""
    return _PHONE_IN_TEXT.sub(r"\1****\2", _ID_IN_TEXT.sub(r"\1********\2", text or ""))


def has_numbers(text: str) -> bool:
    return bool(_ID_IN_TEXT.search(text or "") or _PHONE_IN_TEXT.search(text or ""))
