"""JSON API of the clinic triage: the screening devices of the posts (a visit, idempotent on
its client_id), the medics' queue, routing and outcomes, and the daily report to the CDC
pulled by the CDC's upstream system with its export token. Responses hold masked ID numbers
and phones only, except the report pulled with a token the admin made for full numbers."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from ninja import Body, Router, Schema, Status

from fangkong.lib import exports
from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm, get_in_scope, token_auth

from . import actions, queries
from .models import Post, Visit

router = Router(tags=["clinic"])


class ClinicPostOut(Schema):
    id: int
    clinic_id: int
    clinic: str
    name: str
    active: bool


class ClinicVisitOut(Schema):
    id: int
    client_id: str
    origin: str
    post_id: int | None
    place_id: int
    masked: str
    id_masked: str
    phone_masked: str
    sex: str
    age: int | None
    temperature: float | None
    fever: bool
    high_risk: bool
    symptoms: list[str]
    source_area: bool | None
    contact_source: bool | None
    contact_confirmed: bool | None
    gathering: bool | None
    route: str
    state: str
    registered: bool
    observation_id: int | None
    test_result: str
    occurred_at: dt.datetime
    created: bool = False


class ClinicRouteIn(Schema):
    route: str = ""
    temperature: str | None = None
    symptoms: list[str] = []
    source_area: bool | None = None
    contact_source: bool | None = None
    contact_confirmed: bool | None = None
    gathering: bool | None = None
    history_note: str = ""
    note: str = ""


class ClinicOutcomeIn(Schema):
    action: str = ""  # test / admit / release (checked by the action, after the scope: 404 before 422)
    result: str = ""
    note: str = ""


class CdcReportRow(Schema):
    序号: int
    姓名: str
    性别: str
    年龄: int | str
    身份证号: str
    联系电话: str
    现住址: str
    就诊时间: str
    体温: str
    症状: str
    流行病学史: str
    分诊去向: str
    处置结果: str


class CdcReportOut(Schema):
    day: dt.date
    system: str
    unmasked: bool
    rows: list[CdcReportRow]


def visit_out(v: Visit, created: bool = False) -> dict:
    return {
        "id": v.pk, "client_id": str(v.client_id), "origin": v.origin, "post_id": v.post_id, "place_id": v.place_id,
        "masked": v.masked, "id_masked": v.id_masked, "phone_masked": v.phone_masked, "sex": v.sex, "age": v.age,
        "temperature": float(v.temperature) if v.temperature is not None else None, "fever": v.fever,
        "high_risk": v.high_risk, "symptoms": v.symptom_list, "source_area": v.source_area,
        "contact_source": v.contact_source, "contact_confirmed": v.contact_confirmed, "gathering": v.gathering,
        "route": v.route, "state": v.state, "registered": v.person_id is not None, "observation_id": v.observation_id,
        "test_result": v.test_result, "occurred_at": v.occurred_at, "created": created,
    }


@router.get("/clinic/posts", response=list[ClinicPostOut], auth=api_perm("clinic.view"))
def posts(request):
    return [{"id": p.pk, "clinic_id": p.clinic_id, "clinic": p.clinic.name, "name": p.name, "active": p.active}
            for p in queries.posts(request.user)[:500]]


@router.post("/clinic/posts/{pk}/visits", response={200: ClinicVisitOut, 201: ClinicVisitOut}, auth=api_perm("clinic.screen", obj=Post))
def record_visit(request, pk: int, payload: dict[str, Any] = Body(...)):
    """One visitor screened at the post: by ID number, or name and phone; temperature,
    symptoms, travel and contact history, route. A resend (same client_id) returns 200."""
    post = get_in_scope(Post.objects.select_related("clinic"), request.user, "clinic.screen", pk=pk)
    visit, created = actions.record_visit(acting_user=request.user, post=post, data=payload)
    return Status(201 if created else 200, visit_out(visit, created))


@router.get("/clinic/visits", response=list[ClinicVisitOut], auth=api_perm("clinic.view"))
def visit_list(request, state: str = "", day: dt.date | None = None):
    """Visits in the user's area, newest first (at most 500): by state and day."""
    qs = queries.visits(request.user)
    if state:
        if state not in Visit.State.values:
            raise Invalid({"state": "state is one of " + ", ".join(Visit.State.values)})
        qs = qs.filter(state=state)
    if day is not None:
        qs = queries.of_day(qs, day)
    return [visit_out(v) for v in qs[:500]]


@router.post("/clinic/visits/{pk}/route", response=ClinicVisitOut, auth=api_perm("clinic.triage", obj=Visit))
def route(request, pk: int, payload: ClinicRouteIn):
    """Screen and route a fever sent by a gate (409 if it has been routed already)."""
    visit = get_in_scope(Visit, request.user, "clinic.triage", pk=pk)
    return visit_out(actions.route_visit(acting_user=request.user, visit=visit, data=payload.dict()))


@router.post("/clinic/visits/{pk}/outcome", response=ClinicVisitOut, auth=api_perm("clinic.triage", obj=Visit))
def outcome(request, pk: int, payload: ClinicOutcomeIn):
    """An outcome of a routed fever patient: test (with result), admit, release (409 if not allowed now)."""
    visit = get_in_scope(Visit, request.user, "clinic.triage", pk=pk)
    return visit_out(actions.record_outcome(acting_user=request.user, visit=visit, action=payload.action,
                                            note=payload.note, result=payload.result))


@router.get("/clinic/report", response=CdcReportOut, auth=token_auth(
    "clinic.report", "The export token the admin made for an upstream system (the CDC's): Authorization: Bearer <token>; "
    "401 without a live token"))
def report(request, day: dt.date | None = None, format: str = "json"):
    """The daily report to the CDC (fever patients and high-risk visitors of the day in the
    token's area). The token is checked by the access module (401 if missing, unknown or
    revoked; a refused known token is audited); each pull is audited under its name."""
    token = request.auth
    day = day or timezone.localdate()
    if not dt.date(2000, 1, 1) <= day <= dt.date(2100, 1, 1):
        raise Invalid({"day": "day must lie between 2000 and 2100"})
    if format not in ("json", "csv"):
        raise Invalid({"format": "format is json or csv"})
    qs = queries.report_visits(Visit.objects.filter(place_path__under=token.place_path), day)
    actions.audit_export(acting_user=None, day=day, rows=qs.count(), unmasked=token.unmasked, fmt=format, token=token,
                         place_path=token.place_path)
    rows = list(queries.report_rows(qs, unmasked=token.unmasked))
    if format == "csv":
        return exports.csv_response(rows, f"report-{day.isoformat()}.csv")
    header = rows[0]
    return {"day": day, "system": token.name, "unmasked": token.unmasked,
            "rows": [dict(zip(header, [str(c) if i in (4, 5) else c for i, c in enumerate(r)])) for r in rows[1:]]}

