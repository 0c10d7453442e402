"""A donation list or an inventory count from XLSX/CSV (Chinese headers recognised).

Donation list: 捐赠方/捐赠人, 物资/品名, 数量, 单位 (a package name such as 盒, or the base
unit), 备注 — rows of one donor make one donation (one letter of thanks).
Inventory count: 物资/品名, 实盘数量/数量 (in the base unit, or with 单位 a package) — each
row posts the difference to the ledger as a stock count.

All rows are checked first; if any is wrong nothing is posted and the errors name the row
and the column. Lists are small (a donation list, a count of a dozen items): read in the
request."""
from __future__ import annotations

import tempfile
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.lib import sheets
from fangkong.lib.workflow import Invalid

from . import actions
from .models import Item

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 2000

DONATIONS = sheets.Columns(
    labels={"donor": gettext_lazy("Donor"), "item": gettext_lazy("Item"), "quantity": gettext_lazy("Quantity"),
            "unit": gettext_lazy("Unit"), "note": gettext_lazy("Note")},
    aliases={"donor": ["捐赠方", "捐赠人", "捐赠单位", "donor"], "item": ["物资", "品名", "物资名称", "item"],
             "quantity": ["数量", "quantity"], "unit": ["单位", "unit"], "note": ["备注", "note"]},
    required=["donor", "item", "quantity"],
)
COUNT = sheets.Columns(
    labels={"item": gettext_lazy("Item"), "quantity": gettext_lazy("Quantity"), "unit": gettext_lazy("Unit")},
    aliases={"item": ["物资", "品名", "物资名称", "item"], "quantity": ["实盘数量", "盘点数量", "数量", "quantity"],
             "unit": ["单位", "unit"]},
    required=["item", "quantity"],
)


def _find_item(text: str):
    text = (text or "").strip()
    return Item.objects.filter(name=text).first() or Item.objects.filter(code=text).first()


def _package(item, unit: str):
    unit = (unit or "").strip()
    if not unit or unit == item.unit:
        return None
    return unit  # a package name, checked by quantity_in_base


def run(*, acting_user, holder, upload, kind: str) -> dict:
    """{"rows": n posted, "errors": [(row, column, message)]}; Invalid for a file-level problem."""
    if kind not in ("donations", "count"):
        raise Invalid({"kind": _("Choose a donation list or an inventory count")})
    if upload is None:
        raise Invalid({"file": _("Choose a file")})
    if upload.size > MAX_BYTES:
        raise Invalid({"file": _("The file is larger than 2 MB")})
    cols = DONATIONS if kind == "donations" else COUNT
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload"
        with open(path, "wb") as fh:
            for chunk in upload.chunks():
                fh.write(chunk)
        try:
            table = sheets.Table.open(path, upload.name or "")
            table.header_row = cols.find_header_row(table) or 1
            headers = table.headers()
            mapping = cols.auto_mapping(headers)
            problems = cols.check_mapping(mapping, headers)
            if problems:
                raise Invalid({"file": "; ".join(str(p) for p in problems)})
            rows = []
            for rec in sheets.records(table, cols.reader(mapping, headers)):
                rows.append(rec)
                if len(rows) > MAX_ROWS:
                    raise Invalid({"file": _("At most %(n)d rows") % {"n": MAX_ROWS}})
        except sheets.SheetError as exc:
            raise Invalid({"file": str(exc)}) from None
    errors, checked = [], []
    for rec in rows:
        v = rec.values
        for col, _raw, message in rec.errors:
            errors.append((rec.number, str(col), str(message)))
        if not any((v.get(k) or "").strip() for k in v):
            continue
        item = _find_item(v.get("item", ""))
        if item is None:
            errors.append((rec.number, str(cols.labels["item"]), _("Unknown supply item")))
            continue
        pkg = _package(item, v.get("unit", ""))
        try:
            if kind == "donations":
                n = actions.quantity_in_base(item, v.get("quantity"), package=pkg)
                donor = (v.get("donor") or "").strip()
                if not donor:
                    raise Invalid({"donor": _("Enter the donor (at most 120 characters)")})
                checked.append((donor[:120], item, n, (v.get("note") or "").strip()))
            else:
                raw = (v.get("quantity") or "").strip()
                n = 0 if raw == "0" and pkg is None else actions.quantity_in_base(item, raw, package=pkg)
                checked.append((item, n))
        except Invalid as exc:
            for field, message in exc.errors.items():
                label = cols.labels.get(field.split(".")[0], cols.labels.get("quantity"))
                errors.append((rec.number, str(label), str(message)))
    if errors:
        return {"rows": 0, "errors": errors}
    with transaction.atomic():
        if kind == "donations":
            by_donor: dict[str, list] = {}
            for donor, item, n, note in checked:
                by_donor.setdefault(donor, []).append((item, n, note))
            for donor, lines in by_donor.items():
                actions.record_donation(acting_user=acting_user, holder=holder, donor=donor,
                                        lines=[(item, str(n), None) for item, n, _note in lines],
                                        note="; ".join(n for *_x, n in lines if n)[:200])
        else:
            for item, n in checked:
                actions.count(acting_user=acting_user, holder=holder, item=item, counted=str(n), note=_("Imported count"))
    return {"rows": len(checked), "errors": []}
