"""Lists from spreadsheets (CSV in UTF-8 or GBK, XLSX; Chinese headers): an enterprise's
staff list and the enterprises of a grid. All or nothing: every row is checked through the
same action as one added by hand; any row in error → nothing is stored and every error is
reported as (row, column, reason)."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.lib import sheets
from fangkong.lib.workflow import Conflict, Invalid

from . import actions

STAFF_COLUMNS = sheets.Columns(
    labels={"name": gettext_lazy("Name"), "id_number": gettext_lazy("ID number"), "phone": gettext_lazy("Phone"),
            "origin": gettext_lazy("Returned from"), "return_date": gettext_lazy("Return date"),
            "address": gettext_lazy("Home address")},
    aliases={"name": ["姓名", "员工姓名", "name"], "id_number": ["身份证号", "身份证号码", "公民身份号码", "id_number"],
             "phone": ["联系电话", "手机号", "电话", "phone"], "origin": ["返回前所在地", "来源地", "从何地返回", "origin"],
             "return_date": ["返回日期", "返岗日期", "return_date"], "address": ["居住地址", "住址", "address"]},
    required=["name", "id_number"],
)
ENTERPRISE_COLUMNS = sheets.Columns(
    labels={"name": gettext_lazy("Enterprise name"), "code": gettext_lazy("Code"), "place": gettext_lazy("Grid or compound"),
            "sector": gettext_lazy("Sector"), "size": gettext_lazy("Employees"), "priority": gettext_lazy("Priority"),
            "officer_name": gettext_lazy("Safety officer"), "address": gettext_lazy("Address")},
    aliases={"name": ["企业名称", "名称", "name"], "code": ["统一社会信用代码", "编码", "code"],
             "place": ["网格", "所在网格", "小区", "place"], "sector": ["行业", "类型", "sector"],
             "size": ["员工人数", "人数", "size"], "priority": ["分类", "类别", "priority"],
             "officer_name": ["防疫专员", "安全管理员", "officer_name"], "address": ["地址", "address"]},
    required=["name", "code", "place"],
)


def _saved(upload) -> Path:
    tmp = tempfile.NamedTemporaryFile(delete=False, suffix=Path(getattr(upload, "name", "") or "x").suffix[:8])
    for chunk in upload.chunks() if hasattr(upload, "chunks") else [upload.read()]:
        tmp.write(chunk)
    tmp.close()
    return Path(tmp.name)


def _rows(upload, columns):
    """(records, None) or (None, [file-level problems])."""
    path = _saved(upload)
    try:
        table = sheets.Table.open(path, getattr(upload, "name", ""))
        table.header_row = columns.find_header_row(table) or 1
        headers = table.headers()
        mapping = columns.auto_mapping(headers)
        problems = columns.check_mapping(mapping, headers)
        if problems:
            return None, [(0, "", str(p)) for p in problems]
        return list(sheets.records(table, columns.reader(mapping, headers))), None
    except sheets.SheetError as exc:
        return None, [(0, "", str(exc))]
    finally:
        path.unlink(missing_ok=True)


class _Rollback(Exception):
    pass


def _date(text: str):
    try:
        return dt.date.fromisoformat(text[:10]) if text else None
    except ValueError:
        raise Invalid({"return_date": _("Not a date")}) from None


def import_staff(*, acting_user, enterprise, upload, max_rows: int = 5000) -> dict:
    """{"added": n, "errors": [(row, column, reason)]}: nothing stored unless there are no errors."""
    from fangkong.inflow.models import Origin

    records, problems = _rows(upload, STAFF_COLUMNS)
    if problems:
        return {"added": 0, "errors": problems}
    if len(records) > max_rows:
        return {"added": 0, "errors": [(0, "", _("At most %(n)d rows") % {"n": max_rows})]}
    origins = {o.name: o for o in Origin.objects.all()}
    labels = STAFF_COLUMNS.labels
    errors, added = [], 0
    try:
        with transaction.atomic():
            for rec in records:
                errors += rec.errors
                v = rec.values
                origin = None
                if v.get("origin"):
                    origin = origins.get(v["origin"].strip())
                    if origin is None:
                        errors.append((rec.number, str(labels["origin"]), _("Unknown origin")))
                        continue
                try:
                    with transaction.atomic():
                        actions.add_staff(acting_user=acting_user, enterprise=enterprise, name=v.get("name", ""),
                                          id_number=v.get("id_number", ""), phone=v.get("phone", ""), origin=origin,
                                          return_date=_date(v.get("return_date", "")), address=v.get("address", ""))
                    added += 1
                except Invalid as exc:
                    errors += [(rec.number, str(labels.get(k, k)), str(m)) for k, m in exc.errors.items()]
                except Conflict as exc:
                    errors.append((rec.number, "", str(exc)))
            if errors:
                raise _Rollback
    except _Rollback:
        return {"added": 0, "errors": errors}
    return {"added": added, "errors": []}


def import_enterprises(*, acting_user, places, upload, max_rows: int = 5000) -> dict:
    """Enterprises of the grids `places` (the user's scope) by the place's code or name."""
    records, problems = _rows(upload, ENTERPRISE_COLUMNS)
    if problems:
        return {"added": 0, "errors": problems}
    if len(records) > max_rows:
        return {"added": 0, "errors": [(0, "", _("At most %(n)d rows") % {"n": max_rows})]}
    by_key = {}
    for p in places:
        by_key.setdefault(p.code, p)
        by_key.setdefault(p.name, p)
    from .models import Enterprise, Priority

    sectors = {str(label): key for key, label in Enterprise.Sector.choices} | {k: k for k in Enterprise.Sector.values}
    priorities = {str(label): key for key, label in Priority.choices} | {k: k for k in Priority.values}
    labels = ENTERPRISE_COLUMNS.labels
    errors, added = [], 0
    try:
        with transaction.atomic():
            for rec in records:
                errors += rec.errors
                v = rec.values
                place = by_key.get(v.get("place", "").strip())
                if place is None:
                    errors.append((rec.number, str(labels["place"]), _("Unknown grid or compound, or outside your area")))
                    continue
                size = v.get("size", "").strip() or "0"
                if not size.isdigit():
                    errors.append((rec.number, str(labels["size"]), _("The number of employees is a whole number")))
                    continue
                try:
                    with transaction.atomic():
                        actions.register_enterprise(
                            acting_user=acting_user, name=v.get("name", ""), code=v.get("code", ""), place=place,
                            sector=sectors.get(v.get("sector", "").strip(), "firm" if not v.get("sector") else "?"),
                            size=int(size), priority=priorities.get(v.get("priority", "").strip(),
                                                                    "ordinary" if not v.get("priority") else "?"),
                            officer_name=v.get("officer_name", ""), address=v.get("address", ""))
                    added += 1
                except Invalid as exc:
                    errors += [(rec.number, str(labels.get(k, k)), str(m)) for k, m in exc.errors.items()]
            if errors:
                raise _Rollback
    except _Rollback:
        return {"added": 0, "errors": errors}
    return {"added": added, "errors": []}
