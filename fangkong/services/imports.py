"""Lists from spreadsheets (CSV or XLSX, Chinese headers, a title row above them found):

* the hardship register: one case a row, the person named by the ID number (in the
  importer's area), the pairing partner by account name; valid rows are registered through
  the same actions as the page, rows in error are listed with their row number and column
  (nothing half-stored for a row);
* a group order's quantities (the owners' 接龙 list): a household a row, by its address or
  room number, one column per item of the order; a row's quantities all or none;
* the distribution points' plan: a building a row with its point and the point's staff
  (account names); checked whole first, then stored all or nothing.
"""
from __future__ import annotations

import re
import tempfile
from contextlib import contextmanager
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


@contextmanager
def _opened(upload, columns: sheets.Columns, max_cell: int = 200):
    """(table, reader) of an uploaded list, its header row found; Invalid naming the file's problem."""
    if upload is None:
        raise Invalid({"file": _("Choose a CSV or XLSX file")})
    suffix = Path(getattr(upload, "name", "") or "x.xlsx").suffix[:8]
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        for chunk in upload.chunks():
            tmp.write(chunk)
        tmp.flush()
        try:
            table = sheets.Table.open(Path(tmp.name), upload.name)
            table.header_row = columns.find_header_row(table) or 1
            headers = table.headers()
        except sheets.SheetError as exc:
            raise Invalid({"file": str(exc)}) from None
        mapping = columns.auto_mapping(headers)
        problems = columns.check_mapping(mapping, headers)
        if problems:
            raise Invalid({"file": "; ".join(problems)})
        yield table, columns.reader(mapping, headers, max_cell=max_cell)


def run(*, acting_user, upload) -> dict:
    """{"created": n, "errors": [(row, column, reason)]} or Invalid naming the file's problem."""
    from fangkong.residents.queries import find_person

    with _opened(upload, COLUMNS) as (table, reader):
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


# --- A group order's quantities (接龙) -------------------------------------------------------

ADDRESS_ALIASES = ["地址", "住址", "家庭住址", "门牌", "address", "Address"]
ROOM_ALIASES = ["房号", "房间号", "房号/门牌", "室", "room", "Room number"]


def order_columns(order) -> sheets.Columns:
    labels = {"address": gettext_lazy("Address"), "room": gettext_lazy("Room number")}
    aliases = {"address": ADDRESS_ALIASES, "room": ROOM_ALIASES}
    for n, item in enumerate(order.items):
        labels[f"item_{n}"], aliases[f"item_{n}"] = item, [item]
    return sheets.Columns(labels=labels, aliases=aliases)


def order_lines(*, acting_user, order, upload, households) -> dict:
    """The quantities of a group order from the owners' list: a household a row (its full
    address, or its room number when that names one household of the order's buildings),
    one column per item (blank: left as it is; 0 removes it). `households`: those the
    importer may add for. {"rows": n, "lines": n, "errors": [(row, column, reason)]}; a
    closed order refuses the whole file (Conflict)."""
    from django.db import transaction
    from django.utils import timezone

    if not order.is_open(timezone.now()):
        raise Conflict(_("This order closed at %(t)s; no more changes") % {
            "t": timezone.localtime(order.closes_at).strftime("%m-%d %H:%M")})
    columns = order_columns(order)
    households = households.filter(place_path__startswith=order.place_path)
    saved_rows, saved_lines, errors = 0, 0, []
    with _opened(upload, columns, max_cell=100) as (table, reader):
        fields = set(reader.header)
        if not fields & {"address", "room"}:
            raise Invalid({"file": _("Required column missing: %(f)s") % {"f": _("Address")}})
        items = [(f"item_{n}", item) for n, item in enumerate(order.items) if f"item_{n}" in fields]
        if not items:
            raise Invalid({"file": _("No column names an item of this order")})
        try:
            for n, rec in enumerate(sheets.records(table, reader)):
                if n >= MAX_ROWS:
                    errors.append((rec.number, "", _("At most %(n)d rows at a time") % {"n": MAX_ROWS}))
                    break
                if rec.errors:
                    errors.extend(rec.errors)
                    continue
                v = rec.values
                hh, where = None, "address"
                if v.get("address"):
                    hh = households.filter(address=v["address"]).first()
                elif v.get("room"):
                    where = "room"
                    found = list(households.filter(address__endswith=v["room"])[:2]) or list(
                        households.filter(address__endswith=v["room"] + "室")[:2])
                    hh = found[0] if len(found) == 1 else None
                    if len(found) > 1:
                        errors.append((rec.number, reader.header["room"],
                                       _("More than one household ends with this room number; enter the building too")))
                        continue
                if hh is None:
                    errors.append((rec.number, reader.header.get(where, ""),
                                   _("No household with this address in the order's buildings")))
                    continue
                wanted = [(f, item, v.get(f, "")) for f, item in items if v.get(f, "") != ""]
                bad = [(f, q) for f, _item, q in wanted if not re.fullmatch(r"\d{1,3}", q)]
                if bad:
                    errors.extend((rec.number, reader.header[f], _("Enter a number from 0 to 999")) for f, _q in bad)
                    continue
                with transaction.atomic():
                    for _f, item, q in wanted:
                        actions.set_quantity(acting_user=acting_user, order=order, household=hh, item=item, quantity=q)
                saved_rows += 1
                saved_lines += len(wanted)
        except sheets.SheetError as exc:
            errors.append((0, "", str(exc)))
    return {"rows": saved_rows, "lines": saved_lines, "errors": errors}


# --- The distribution points' plan -------------------------------------------------------------

POINT_COLUMNS = sheets.Columns(
    labels={"point": gettext_lazy("Distribution point"), "building": gettext_lazy("Building code"),
            "staff": gettext_lazy("Staff (account names)")},
    aliases={"point": ["发放点", "分发点", "配送点", "point"], "building": ["楼栋编码", "楼栋代码", "楼栋", "building"],
             "staff": ["工作人员", "人员", "干部和志愿者", "staff"]},
    required=["point", "building"],
)


def points_plan(*, acting_user, upload, buildings) -> dict:
    """Points, their buildings and staff from a list: a building a row (by its code, among
    `buildings`: those in the importer's area), its point by name in the building's
    community (made when new), the point's staff by account names separated by 、 , ; or
    spaces. A building moves to the point of its row (one point per building). Every row
    checked first; any error: nothing stored. {"points": n, "buildings": n, "errors": [...]}"""
    from django.db import transaction

    from fangkong.places.access import ancestor_paths
    from fangkong.places.models import Place

    from .models import DistributionPoint

    users = get_user_model().objects.filter(is_active=True)
    plan: dict = {}  # (community pk, point name) -> {"community", "buildings": [], "staff": set()}
    errors = []
    with _opened(upload, POINT_COLUMNS, max_cell=500) as (table, reader):
        col = reader.header
        try:
            for n, rec in enumerate(sheets.records(table, reader)):
                if n >= MAX_ROWS:
                    errors.append((rec.number, "", _("At most %(n)d rows at a time") % {"n": MAX_ROWS}))
                    break
                if rec.errors:
                    errors.extend(rec.errors)
                    continue
                v = rec.values
                name = v["point"][:100]
                if not name:
                    errors.append((rec.number, col["point"], _("Name the point")))
                    continue
                building = buildings.filter(code=v["building"]).first() if v["building"] else None
                if building is None:
                    errors.append((rec.number, col["building"], _("No building with this code in your area")))
                    continue
                community = Place.objects.filter(path__in=ancestor_paths(building.path), kind="community").first()
                if community is None:
                    errors.append((rec.number, col["building"], _("This building lies in no community")))
                    continue
                names = [x for x in re.split(r"[、,，;；\s]+", v.get("staff", "")) if x]
                found = list(users.filter(username__in=names))
                missing = sorted(set(names) - {u.username for u in found})
                if missing:
                    errors.append((rec.number, col.get("staff", ""),
                                   _("No active account with this name") + ": " + "、".join(missing[:5])))
                    continue
                entry = plan.setdefault((community.pk, name), {"community": community, "buildings": [], "staff": set()})
                entry["buildings"].append(building)
                entry["staff"].update(found)
        except sheets.SheetError as exc:
            errors.append((0, "", str(exc)))
    if errors or not plan:
        return {"points": 0, "buildings": 0, "errors": errors}
    with transaction.atomic():
        for (_c, name), entry in plan.items():
            point = DistributionPoint.objects.filter(place=entry["community"], name=name).first()
            if point is None:
                point = actions.create_point(acting_user=acting_user, community=entry["community"], name=name)
            moved = [b.pk for b in entry["buildings"]]
            for other in DistributionPoint.objects.filter(place=entry["community"], buildings__in=moved).exclude(
                    pk=point.pk).distinct():
                other.buildings.remove(*moved)
            point.buildings.add(*entry["buildings"])
            point.staff.add(*entry["staff"])
        from fangkong.audit.actions import record

        record(acting_user, "services.point.import", detail={"points": len(plan),
                                                             "buildings": sum(len(e["buildings"]) for e in plan.values())})
    return {"points": len(plan), "buildings": sum(len(e["buildings"]) for e in plan.values()), "errors": []}
