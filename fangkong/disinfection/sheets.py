"""Targets from a list (XLSX/CSV, Chinese headers) and the printable QR sheets.

Import: 楼栋/位置 (a building's or the compound's name under the chosen place), 类型
(楼道, 垃圾站, 垃圾桶, 公厕, 门岗, 值班室, 办公室, 会议室, 其他), 名称, 每几天 (1 if empty),
每天几次 (1 if empty), 重点 (是/否). All rows are checked first; on any error nothing is
added and the errors name the row and the column.

QR sheet: A4, 8 cards a page, each with the target's code (the phone page's address) in
large print, its label and frequency, to be posted on the stairwell, bin or room."""
from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import sheets
from fangkong.lib.workflow import Invalid
from fangkong.places.models import Place

from . import actions
from .models import Target

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
KINDS = {"楼道": "stairwell", "垃圾站": "garbage_station", "垃圾桶": "bin", "公厕": "toilet", "厕所": "toilet",
         "门岗": "gatehouse", "值班室": "duty_room", "办公室": "office", "会议室": "meeting_room", "其他": "other"}
KINDS.update({v: v for v in KINDS.values()})
COLUMNS = sheets.Columns(
    labels={"where": gettext_lazy("Building"), "kind": gettext_lazy("Kind"), "label": gettext_lazy("Label"),
            "every_days": gettext_lazy("Every N days"), "times_a_day": gettext_lazy("Times a day"),
            "key_area": gettext_lazy("Key area")},
    aliases={"where": ["楼栋", "位置", "楼号", "building"], "kind": ["类型", "kind"], "label": ["名称", "label"],
             "every_days": ["每几天", "间隔天数", "every_days"], "times_a_day": ["每天几次", "每日次数", "times_a_day"],
             "key_area": ["重点", "重点区域", "key_area"]},
    required=["kind", "label"],
)


def import_targets(*, acting_user, place: Place, upload) -> dict:
    if upload is None:
        raise Invalid({"file": _("Choose a file")})
    if upload.size > MAX_BYTES:
        raise Invalid({"file": _("The file is larger than 2 MB")})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload"
        with open(path, "wb") as fh:
            for chunk in upload.chunks():
                fh.write(chunk)
        try:
            table = sheets.Table.open(path, upload.name or "")
            table.header_row = COLUMNS.find_header_row(table) or 1
            headers = table.headers()
            mapping = COLUMNS.auto_mapping(headers)
            problems = COLUMNS.check_mapping(mapping, headers)
            if problems:
                raise Invalid({"file": "; ".join(str(p) for p in problems)})
            rows = []
            for rec in sheets.records(table, COLUMNS.reader(mapping, headers)):
                rows.append(rec)
                if len(rows) > MAX_ROWS:
                    raise Invalid({"file": _("At most %(n)d rows") % {"n": MAX_ROWS}})
        except sheets.SheetError as exc:
            raise Invalid({"file": str(exc)}) from None
    places = {p.name: p for p in Place.objects.filter(path__under=place.path, kind__in=[Place.Kind.BUILDING, Place.Kind.COMPOUND])}
    errors, made = [], 0
    with transaction.atomic():
        for rec in rows:
            v = rec.values
            if not any((v.get(k) or "").strip() for k in v):
                continue
            where = (v.get("where") or "").strip()
            target_place = places.get(where) if where else place
            if target_place is None:
                errors.append((rec.number, str(COLUMNS.labels["where"]), _("No such building under this place")))
                continue
            try:
                with transaction.atomic():
                    actions.create_target(acting_user=acting_user, place=target_place,
                                          kind=KINDS.get((v.get("kind") or "").strip(), ""), label=v.get("label", ""),
                                          every_days=v.get("every_days"), times_a_day=v.get("times_a_day"),
                                          key_area=(v.get("key_area") or "").strip() in ("是", "重点", "1", "yes", "Y"))
                made += 1
            except Invalid as exc:
                for field, message in exc.errors.items():
                    errors.append((rec.number, str(COLUMNS.labels.get(field, field)), str(message)))
        if errors:
            transaction.set_rollback(True)
    if errors:
        raise Invalid({"file": "; ".join(_("row %(row)s, %(col)s: %(msg)s") % {"row": r, "col": c, "msg": m}
                                         for r, c, m in errors[:20])})
    return {"rows": made}


def frequency(t: Target) -> str:
    if t.every_days == 0:
        return _("after a case")
    if t.every_days == 1:
        return _("%(n)d times a day") % {"n": t.times_a_day} if t.times_a_day > 1 else _("daily")
    return _("every %(n)d days") % {"n": t.every_days}


def qr_sheet(*, acting_user, place: Place, targets: list[Target]) -> bytes:
    from fangkong.documents.pdf import DOCUMENT_LANGUAGE, _qr, blank_pdf

    record(acting_user, "disinfection.qr_sheet", obj=place, detail={"targets": len(targets)})
    with translation.override(DOCUMENT_LANGUAGE):
        pdf = blank_pdf(_("Disinfection codes"))
        pdf.set_auto_page_break(False)
        w, h, qr = 95.0, 68.0, 46.0
        if not targets:
            pdf.add_page()
            pdf.set_font("body", size=12)
            pdf.cell(0, 10, _("No targets here yet."))
        for i, t in enumerate(targets):
            if i % 8 == 0:
                pdf.add_page()
            x, y = 10 + (i % 2) * w, 8 + (i % 8 // 2) * h
            pdf.set_draw_color(160, 160, 160)
            pdf.rect(x, y, w - 4, h - 4)
            _qr(pdf, settings.PUBLIC_URL + reverse("disinfection_scan", kwargs={"code": t.code}), x + 2, y + 2, qr)
            pdf.set_xy(x + qr + 4, y + 6)
            pdf.set_font("title", size=13)
            pdf.multi_cell(w - qr - 10, 6, t.label[:40], align="L")
            pdf.set_font("body", size=9)
            pdf.set_xy(x + qr + 4, y + 30)
            lines = [t.get_kind_display(), frequency(t)] + ([_("Key area")] if t.key_area else [])
            pdf.multi_cell(w - qr - 10, 4.5, "\n".join(str(s) for s in lines), align="L")
            pdf.set_font("body", size=7.5)
            pdf.set_xy(x + 3, y + qr + 4)
            pdf.multi_cell(w - 10, 4, _("Scan after each disinfection to log it, with the agent used."), align="L")
        return bytes(pdf.output())
