"""One validation of person fields, shared by the web form, the API and the importer."""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import lru_cache

from django.utils.translation import gettext as _

from fangkong.lib.identity import IdentityError, birth_date_from_id, normalize_id, normalize_phone, sex_from_id

from .models import TAG_KEYS, TAGS

SEX_WORDS = {"m": "M", "male": "M", "男": "M", "f": "F", "female": "F", "女": "F"}
_CTRL = re.compile(r"[\x00-\x1f\x7f]")
# A name starts with a letter (any script) and holds letters, the middle dot of
# transliterated names (·), spaces, dots and hyphens: no formulas, digits or markup.
_NAME = re.compile(r"^[^\W\d_][^\W\d_·•. \-]*(?:[·•. \-]+[^\W\d_]+)*$")


def tag_aliases() -> dict[str, str]:
    from django.utils import translation

    out = {k: k for k in TAG_KEYS}
    for key, label in TAGS:
        for lang in ("zh-hans", "en"):
            with translation.override(lang):
                out[str(label).lower()] = key
    # The words Chinese registers use, independent of the UI translation.
    out.update({"独居老人": "elderly_alone", "独居": "elderly_alone", "空巢老人": "elderly_alone",
                "租户": "tenant", "租住": "tenant", "租房户": "tenant",
                "流动人口": "floating", "流动人员": "floating", "外来人口": "floating",
                "困难户": "hardship", "困难家庭": "hardship", "困难": "hardship", "低保": "hardship", "低保户": "hardship",
                "残疾人": "disabled", "残疾": "disabled",
                "慢性病": "chronic", "慢性病患者": "chronic", "慢病": "chronic"})
    return out


def clean_name(raw) -> str:
    return _clean_name(str(raw or ""))


@lru_cache(maxsize=8192)
def _clean_name(raw: str) -> str:
    """clean_name of a text; valid names are remembered (an import repeats them often),
    refusals are not (their message is in the language of the moment)."""
    name = unicodedata.normalize("NFKC", raw).strip()
    if not name:
        raise IdentityError(_("Name is required"))
    if _CTRL.search(name):
        raise IdentityError(_("Name contains control characters"))
    if len(name) > 50:
        raise IdentityError(_("Name is longer than 50 characters"))
    if not _NAME.match(name):
        raise IdentityError(_("Name may contain only letters, spaces, dots, hyphens and ·"))
    return name


def parse_date(raw) -> dt.date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    s = str(raw).strip()
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日"):
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    raise IdentityError(_("Date must look like 1990-01-31"))


def clean_tags(raw) -> list[str]:
    if raw in (None, ""):
        return []
    items = raw if isinstance(raw, (list, tuple)) else re.split(r"[,，;；、/\s]+", str(raw))
    aliases = tag_aliases()
    out = []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        key = aliases.get(item.lower())
        if key is None:
            raise IdentityError(_("Unknown tag %(tag)s") % {"tag": item[:30]})
        if key not in out:
            out.append(key)
    return out


def validate_person(data: dict, *, partial: bool = False) -> tuple[dict, dict]:
    """Validate raw person fields. Returns (clean, errors), errors keyed by field name.

    Keys understood: name, id_number, phone, sex, birth_date, tags, note. With partial=True,
    absent keys are left out instead of being required.
    """
    clean, errors = {}, {}

    def run(field, fn):
        if partial and field not in data:
            return
        try:
            clean[field] = fn(data.get(field))
        except IdentityError as exc:
            errors[field] = str(exc.message)

    run("name", clean_name)
    run("id_number", normalize_id)
    run("phone", lambda v: normalize_phone(v) if v not in (None, "") else "")
    run("tags", clean_tags)
    run("note", lambda v: _note(v))

    if "sex" in data or not partial:
        raw = str(data.get("sex") or "").strip().lower()
        if raw and raw not in SEX_WORDS:
            errors["sex"] = _("Sex must be 男/女 (M/F)")
        else:
            clean["sex"] = SEX_WORDS.get(raw, "")
    if "birth_date" in data or not partial:
        try:
            clean["birth_date"] = parse_date(data.get("birth_date"))
        except IdentityError as exc:
            errors["birth_date"] = str(exc.message)

    # Sex and birth date follow from the ID; typed values must agree with it.
    id_number = clean.get("id_number")
    if id_number:
        sex = sex_from_id(id_number)
        if clean.get("sex") and clean["sex"] != sex:
            errors["sex"] = _("Sex does not match the ID number")
        elif "sex" in clean or not partial:
            clean["sex"] = sex
        born = birth_date_from_id(id_number)
        if clean.get("birth_date") and clean["birth_date"] != born:
            errors["birth_date"] = _("Birth date does not match the ID number")
        elif "birth_date" in clean or not partial:
            clean["birth_date"] = born
    return clean, errors


def _note(v) -> str:
    s = str(v or "").strip()
    if not s:
        return ""
    if len(s) > 500:
        raise IdentityError(_("Note is longer than 500 characters"))
    if _CTRL.sub("", s.replace("\n", "").replace("\t", "")) != s.replace("\n", "").replace("\t", ""):
        raise IdentityError(_("Note contains control characters"))
    return s
