"""The hardship register from a spreadsheet (CSV or XLSX): one case a row, the person named
by the ID number (in the importer's area), the pairing partner by account name. Every row
is checked first; valid rows are registered through the same actions as the page, rows in
error are listed with their row number and column (nothing half-stored for a row)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.lib import sheets
from fangkong.lib.workflow import Conflict, Invalid

from . import actions
from .models import HardshipCase

MAX_ROWS = 2000
COLUMNS = sheets.Columns(
    labels={"id_number": gettext_lazy("ID number"), "category": gettext_lazy("Category"), "cause": gettext_lazy("Cause"),
            "degree": gettext_lazy("Degree"), "health": gettext_lazy("Health"),
            "partner": gettext_lazy("Pairing partner")},
    aliases={"id_number": ["身份证号", "身份证号码", "公民身份号码", "id_number", "ID number"],
             "category": ["类别", "困难类别", "category"], "cause": ["致困原因", "困难原因", "cause"],
             "degree": ["困难程度", "程度", "degree"], "health": ["健康状况", "health"],
             "partner": ["帮扶责任人", "结对人", "partner"]},
    required=["id_number", "category", "cause", "degree"],
)
CATEGORY_WORDS = {"独居老人": "elderly_alone", "低保": "subsistence", "低保户": "subsistence", "困境儿童": "child",
                  "大病": "illness", "重病": "illness", "大病重病": "illness", "残疾": "disabled", "其他": "other"}
DEGREE_WORDS = {"一般": 1, "较重": 2, "严重": 3, "1": 1, "2": 2, "3": 3}


def _category(text: str) -> str:
    if text in HardshipCase.Category.values:
        return text
    return CATEGORY_WORDS.get(text, "")


def run(*, acting_user, upload) -> dict:
    """{"created": n, "errors": [(row, column, reason)]} or Invalid naming the file's problem."""
    from fangkong.residents.queries import find_person

    suffix = Path(getattr(upload, "name", "") or "x.xlsx").suffix[:8]
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        for chunk in upload.chunks():
            tmp.write(chunk)
        tmp.flush()
        try:
            table = sheets.Table.open(Path(tmp.name), upload.name)
            table.header_row = COLUMNS.find_header_row(table) or 1
            headers = table.headers()
        except sheets.SheetError as exc:
            raise Invalid({"file": str(exc)}) from None
        mapping = COLUMNS.auto_mapping(headers)
        problems = COLUMNS.check_mapping(mapping, headers)
        if problems:
            raise Invalid({"file": "; ".join(problems)})
        reader = COLUMNS.reader(mapping, headers, max_cell=200)
        users = get_user_model().objects.filter(is_active=True)
        created, errors = 0, []
        try:
            for n, rec in enumerate(sheets.records(table, reader)):
                if n >= MAX_ROWS:
                    errors.append((rec.number, "", _("At most %(n)d rows at a time") % {"n": MAX_ROWS}))
                    break
                if rec.errors:
                    errors.extend(rec.errors)
                    continue
                v = rec.values
                col = reader.header
                try:
                    person = find_person(acting_user, "services.hardship", v["id_number"])
                except Invalid as exc:
                    errors.append((rec.number, col["id_number"], str(next(iter(exc.errors.values())))))
                    continue
                partner = None
                if v.get("partner"):
                    partner = users.filter(username=v["partner"]).first()
                    if partner is None:
                        errors.append((rec.number, col["partner"], _("No active account with this name")))
                        continue
                try:
                    case = actions.register_case(acting_user=acting_user, person=person, category=_category(v["category"]),
                                                 cause=v["cause"], degree=DEGREE_WORDS.get(v["degree"], 0),
                                                 health=v.get("health", ""))
                    if partner is not None:
                        actions.pair(acting_user=acting_user, case=case, partner=partner)
                except Invalid as exc:
                    for field, message in exc.errors.items():
                        errors.append((rec.number, col.get(field, field), str(message)))
                    continue
                except Conflict as exc:
                    errors.append((rec.number, col["id_number"], str(exc)))
                    continue
                created += 1
        except sheets.SheetError as exc:
            errors.append((0, "", str(exc)))
    return {"created": created, "errors": errors}
