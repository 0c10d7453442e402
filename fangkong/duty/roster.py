"""A grid roster from a spreadsheet (XLSX or CSV, Chinese headers as they come): one row
per position — grid code, position (责任领导 / 负责人 / 网格员), name, optionally the account's
user name and the dates. All or nothing: any row in error and nothing is stored; the errors
name the row and the column. Grids outside the importer's area read as unknown."""
from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import sheets
from fangkong.lib.workflow import Invalid
from fangkong.places.access import scope
from fangkong.places.models import Place

from .models import GridPosition

COLUMNS = sheets.Columns(
    labels={"grid": gettext_lazy("Grid code"), "role": gettext_lazy("Position"), "name": gettext_lazy("Name"),
            "username": gettext_lazy("User name"), "starts_on": gettext_lazy("From"), "ends_on": gettext_lazy("Until")},
    aliases={"grid": ["网格编码", "网格代码", "网格编号", "grid", "grid code"],
             "role": ["岗位", "职务", "position", "role"],
             "name": ["姓名", "name"],
             "username": ["用户名", "账号", "username"],
             "starts_on": ["起始日期", "开始日期", "from"],
             "ends_on": ["结束日期", "截止日期", "until"]},
    required=["grid", "role", "name"],
)
ROLES = {"责任领导": "leader", "包片领导": "leader", "leader": "leader", "负责人": "head", "网格长": "head", "head": "head",
         "网格员": "worker", "worker": "worker"}
MAX_ROWS = 20000


def _date(text: str):
    if not text:
        return None
    try:
        return parse_date(text[:10])
    except ValueError:
        return None


def import_roster(*, acting_user, path: Path, file_name: str) -> int:
    """Store every position of the file (the number stored), or raise Invalid with
    {"file": ...} or {"rows": [row messages]} and store nothing."""
    try:
        table = sheets.Table.open(path, file_name)
        table.header_row = COLUMNS.find_header_row(table) or 1
        headers = table.headers()
    except sheets.SheetError as exc:
        raise Invalid({"file": str(exc)}) from None
    mapping = COLUMNS.auto_mapping(headers)
    problems = COLUMNS.check_mapping(mapping, headers)
    if problems:
        raise Invalid({"file": "; ".join(problems)})
    grids = {p.code: p for p in scope(Place.objects.filter(kind="grid"), acting_user, "duty.roster_manage")}
    users = get_user_model().objects
    rows, errors = [], []
    reader = COLUMNS.reader(mapping, headers)
    try:
        for rec in sheets.records(table, reader):
            if len(rows) + len(errors) >= MAX_ROWS:
                errors.append(_("More than %(n)s rows: split the file") % {"n": MAX_ROWS})
                break
            v = rec.values
            msgs = [f"{h}: {m}" for _n, h, m in rec.errors]
            grid = grids.get(v.get("grid", ""))
            if grid is None:
                msgs.append(_("No grid with this code in your area"))
            role = ROLES.get(v.get("role", "").strip().lower())
            if role is None:
                msgs.append(_("Position must be 责任领导, 负责人 or 网格员"))
            if not v.get("name") or len(v["name"]) > 60:
                msgs.append(_("Enter the name (up to 60 characters)"))
            user = None
            if v.get("username"):
                user = users.filter(username=v["username"]).first()
                if user is None:
                    msgs.append(_("No account with this user name"))
            starts, ends = _date(v.get("starts_on", "")), _date(v.get("ends_on", ""))
            if (v.get("starts_on") and starts is None) or (v.get("ends_on") and ends is None):
                msgs.append(_("Dates as 2020-02-01"))
            elif starts and ends and ends < starts:
                msgs.append(_("The end date comes before the start date"))
            if msgs:
                errors.append(_("Row %(n)s: %(m)s") % {"n": rec.number, "m": "; ".join(msgs)})
                continue
            rows.append(GridPosition(grid=grid, role=role, name=v["name"], user=user, starts_on=starts, ends_on=ends,
                                     place_path=grid.path))
    except sheets.SheetError as exc:
        raise Invalid({"file": str(exc)}) from None
    if errors:
        raise Invalid({"rows": errors[:200]})
    if not rows:
        raise Invalid({"file": _("The file holds no positions")})
    with transaction.atomic():
        GridPosition.objects.bulk_create(rows, batch_size=1000)
        record(acting_user, "duty.roster.import", detail={"rows": len(rows), "grids": len({r.grid_id for r in rows})})
    return len(rows)
