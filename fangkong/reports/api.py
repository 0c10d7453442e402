"""JSON API of the daily report: the same actions, reads and access checks as the pages."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone
from ninja import Router, Schema, Status

from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm, get_in_scope, scope
from fangkong.places.models import Organization
from fangkong.lib.db.replica import replica_reads

from . import actions, queries
from .models import FigureDefinition, Submission

router = Router(tags=["reports"])


def _day(raw) -> dt.date:
    if raw in (None, ""):
        return timezone.localdate()
    return actions.parse_day(raw)


class ColumnOut(Schema):
    key: str
    label: str
    section: str
    kind: str


class DailyRowOut(Schema):
    place_id: int
    name: str
    figures: dict[str, int]
    now: dict[str, int] = {}


class OrgRowOut(Schema):
    organization_id: int
    name: str
    kind: str
    figures: dict[str, int]
    entered: dict[str, int | None]
    state: str


class DailyReportOut(Schema):
    day: dt.date
    place_id: int
    place: str
    closed: bool
    closed_at: dt.datetime | None
    columns: list[ColumnOut]
    rows: list[DailyRowOut]
    totals: dict[str, int]
    totals_now: dict[str, int]
    organizations: list[OrgRowOut]


@router.get("/reports/daily", response=DailyReportOut, auth=api_perm("reports.view"),
            summary="The daily report of a place (default: your top place) for a day (default: today)")
def daily(request, day: str = "", place_id: str = ""):
    with replica_reads(request.user):  # fangkong/lib/db/replica.py
        return _daily(request, day, place_id)


def _daily(request, day: str, place_id: str) -> dict:
    d = _day(day)
    place = queries.place_for(request.user, place_id or None)
    if place is None:
        raise Invalid({"place_id": "No place in your scope: name one"})
    rep = queries.report(request.user, d, place)
    return {
        "day": d, "place_id": place.pk, "place": place.name, "closed": rep["closed"] is not None,
        "closed_at": rep["closed"].closed_at if rep["closed"] else None,
        "columns": rep["columns"],
        "rows": [{"place_id": r["place"].pk, "name": r["name"], "figures": r["figures"], "now": r.get("changed", {})}
                 for r in rep["rows"]],
        "totals": rep["totals"], "totals_now": rep["changed"],
        "organizations": [{
            "organization_id": r["org"].pk, "name": r["org"].name, "kind": r["org"].kind,
            "figures": {c["key"]: v for c, v in zip(rep["org_columns"], r["by_org"])},
            "entered": {d.key: c["value"] for d, c in zip(rep["definitions"], r["figures"]) if c["applies"]},
            "state": r["state"],
        } for r in rep["org_rows"]],
    }


class SubmissionOut(Schema):
    id: int
    organization_id: int
    day: dt.date
    state: str
    values: dict[str, int]
    version: int
    confirmed_at: dt.datetime | None


class SubmissionIn(Schema):
    organization_id: int | None = None
    day: str = ""
    values: dict[str, int | str | None] = {}


@router.get("/reports/submissions", response=list[SubmissionOut], auth=api_perm("reports.enter"),
            summary="The entered figures of your stations/units for a day")
def list_submissions(request, day: str = ""):
    d = _day(day)
    return list(scope(Submission.objects.filter(day=d), request.user, "reports.enter"))


@router.post("/reports/submissions", response=SubmissionOut, auth=api_perm("reports.enter"),
             summary="Enter (some of) a station's/unit's figures for a day (integers ≥ 0)")
def enter(request, payload: SubmissionIn):
    if payload.organization_id is None:
        raise Invalid({"organization_id": "Choose the station or unit"})
    d = _day(payload.day)
    org = get_in_scope(Organization.objects.all(), request.user, "reports.enter", pk=payload.organization_id)
    return actions.enter_values(acting_user=request.user, organization=org, day=d, values=payload.values)


def _transition(request, pk: int, action: str):
    t = actions.TRANSITIONS[action]
    sub = get_in_scope(Submission.objects.all(), request.user, t.perm, pk=pk)
    return actions.transition(acting_user=request.user, submission=sub, action=action)


@router.post("/reports/submissions/{pk}/confirm", response=SubmissionOut, auth=api_perm("reports.enter", obj=Submission),
             summary="Confirm the figures (they are locked afterwards)")
def confirm(request, pk: int):
    return _transition(request, pk, "confirm")


@router.post("/reports/submissions/{pk}/reopen", response=SubmissionOut, auth=api_perm("reports.manage", obj=Submission),
             summary="Reopen confirmed figures (coordinator; while the day is open)")
def reopen(request, pk: int):
    return _transition(request, pk, "reopen")


class CorrectionIn(Schema):
    figure: str = ""
    value: int | str | None = None
    reason: str = ""


class CorrectionOut(Schema):
    id: int
    figure: str
    old: int | None
    new: int
    reason: str
    corrected_at: dt.datetime


@router.post("/reports/submissions/{pk}/correct", response=CorrectionOut,
             auth=api_perm("reports.manage", obj=Submission),
             summary="Correct an entered figure of a closed day, with a reason (shown beside the kept figure)")
def correct(request, pk: int, payload: CorrectionIn):
    sub = get_in_scope(Submission.objects.all(), request.user, "reports.manage", pk=pk)
    return actions.correct(acting_user=request.user, submission=sub, figure=payload.figure, value=payload.value,
                           reason=payload.reason)


class LateOut(Schema):
    organization_id: int
    name: str
    state: str  # missing / draft / reopened / late (confirmed after the deadline)


@router.get("/reports/late", response=list[LateOut], auth=api_perm("reports.late"),
            summary="Stations and units that did not confirm by the deadline")
def late(request, day: str = ""):
    d = _day(day)
    rows = actions.late(d, scope(Organization.objects.all(), request.user, "reports.late"))
    return [{"organization_id": r["org"].pk, "name": r["org"].name, "state": r["state"]} for r in rows]


class CloseIn(Schema):
    day: str = ""


class ClosedOut(Schema):
    day: dt.date
    closed_at: dt.datetime


@router.post("/reports/close", response=ClosedOut, auth=api_perm("reports.manage", whole_tree=True),
             summary="Close a day that is over: its report is kept as it is now")
def close(request, payload: CloseIn):
    if not payload.day:
        raise Invalid({"day": "Enter a date like 2020-03-18"})
    d = _day(payload.day)
    return actions.close_day(acting_user=request.user, day=d)


class DefinitionOut(Schema):
    id: int
    key: str
    label: str
    unit: str
    org_kinds: str
    order: int
    active: bool


class DefinitionIn(Schema):
    key: str = ""
    label: str = ""
    unit: str = ""
    org_kinds: list[str] = []
    order: int | None = None


@router.get("/reports/figures", response=list[DefinitionOut], auth=api_perm("reports.manage", whole_tree=True),
            summary="The figures stations and units enter")
def list_definitions(request):
    return list(FigureDefinition.objects.all())


@router.post("/reports/figures", response={201: DefinitionOut}, auth=api_perm("reports.manage", whole_tree=True),
             summary="Define a figure that stations/units enter every day")
def create_definition(request, payload: DefinitionIn):
    d = actions.create_definition(acting_user=request.user, key=payload.key, label=payload.label, unit=payload.unit,
                                  org_kinds=payload.org_kinds, order=payload.order)
    return Status(201, d)
