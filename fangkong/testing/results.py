"""The lab's result file (CSV/XLSX: tube code, result, time) and result rows posted through
the API: each row stored by itself (the action post_result), the bad ones reported with
their row number and reason; a tube the caller may not post for reads as unknown."""
from __future__ import annotations

import itertools
from pathlib import Path

from django.db import transaction

from django.utils.dateparse import parse_date, parse_datetime
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.lib import sheets
from fangkong.lib.workflow import Conflict, Invalid

COLUMNS = sheets.Columns(
    labels={"tube": gettext_lazy("Tube barcode"), "result": gettext_lazy("Result"), "time": gettext_lazy("Time")},
    aliases={"tube": ["试管编号", "试管条码", "管码", "条码", "tube", "tube code", "barcode"],
             "result": ["结果", "检测结果", "result"],
             "time": ["时间", "检测时间", "报告时间", "time", "resulted at"]},
    required=["tube", "result"],
)
MAX_ROWS = 50_000
CHUNK = 100  # rows a commit


def _time(raw):
    text = str(raw or "").strip()
    if not text:
        return None
    value = None
    try:
        value = parse_datetime(text.replace("/", "-")) or parse_datetime(text.replace("/", "-") + ":00")
        if value is None and parse_date(text.replace("/", "-")):
            d = parse_date(text.replace("/", "-"))
            value = timezone.datetime(d.year, d.month, d.day)
    except (ValueError, OverflowError):
        value = None
    if value is None:
        raise Invalid({"time": _("Unreadable time: %(t)s") % {"t": text[:30]}})
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def apply_rows(user, rows) -> dict:
    """rows: (row number, {tube, result, time}) pairs. {stored, unchanged, errors}."""
    out = {"stored": 0, "unchanged": 0, "errors": []}
    rows = iter(rows)
    # One commit per CHUNK rows (each row in its own savepoint inside it: a refused row takes
    # nothing else with it), as the phones' sync: a day's file is not a commit per tube.
    while True:
        chunk = list(itertools.islice(rows, CHUNK))
        if not chunk:
            return out
        with transaction.atomic():
            for number, row in chunk:
                _apply_row(user, number, row, out)


def _apply_row(user, number, row, out: dict) -> None:
    from . import actions
    from .api import results_tube

    if not isinstance(row, dict):
        out["errors"].append({"row": number, "field": "row", "reason": _("Not a row")})
        return
    try:
        tube = results_tube(user, row.get("tube"))
        _tube, changed = actions.post_result(acting_user=user, tube=tube, result=row.get("result"),
                                             at=_time(row.get("time")))
    except Invalid as exc:
        for field, reason in exc.errors.items():
            out["errors"].append({"row": number, "field": field, "reason": str(reason)})
        return
    except Conflict as exc:
        out["errors"].append({"row": number, "field": "tube", "reason": str(exc)})
        return
    out["stored" if changed else "unchanged"] += 1


def import_file(user, path: Path, file_name: str) -> dict:
    """A result file read row by row (streamed); file-level problems as an Invalid naming `file`."""
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
    reader = COLUMNS.reader(mapping, headers)
    out = {"stored": 0, "unchanged": 0, "errors": []}
    bad_rows = []

    def good():
        for n, rec in enumerate(sheets.records(table, reader)):
            if n >= MAX_ROWS:
                bad_rows.append({"row": rec.number, "field": "file", "reason": _("At most %(n)d rows in one file") % {"n": MAX_ROWS}})
                return
            if rec.errors:
                bad_rows.extend({"row": r, "field": h, "reason": str(m)} for r, h, m in rec.errors)
                continue
            yield rec.number, rec.values

    try:
        out = apply_rows(user, good())
    except sheets.SheetError as exc:
        raise Invalid({"file": str(exc)}) from None
    out["errors"] = bad_rows + out["errors"]
    return out
