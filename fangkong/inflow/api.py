"""JSON API of the inflow closed loop: the same actions and access checks as the pages."""
from __future__ import annotations

import datetime as dt

from ninja import Field, Router, Schema, Status

from fangkong.lib.apitypes import Offset
from fangkong.audit.actions import record
from fangkong.web.operations import transition_ops
from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm, get_in_scope

from . import actions, queries
from .models import Application, MeasurePolicy, Origin
from .views import _apply_places, _employer_of, board_queryset

router = Router(tags=["inflow"])


class ApplicationOut(Schema):
    # The name and masked ID as given, and no person id: the answer is the same whether
    # the number was new here (registered now) or is registered in another community
    # (a transfer request waits for its committee; residents.transfers).
    person_name: str
    id_masked: str = Field(..., alias="person_id_masked")
    id: int
    serial: str
    state: str
    origin: str = Field(..., alias="origin.name")
    risk: str
    place_id: int
    employer_id: int | None
    submitted_at: dt.datetime
    forwarded_at: dt.datetime | None
    review_due_at: dt.datetime | None
    due_link: str
    due_at: dt.datetime | None
    escalated_at: dt.datetime | None
    decided_at: dt.datetime | None
    pushed_at: dt.datetime | None
    planned_arrival: dt.date | None
    arrived_at: dt.datetime | None
    decision_reason: str
    measure: str
    measure_start: dt.date | None
    measure_end: dt.date | None


class ApplyIn(Schema):
    name: str
    id_number: str
    phone: str = ""
    origin_id: int
    place_id: int
    address: str
    purpose: str = ""
    transport: str = ""
    client_key: str = ""


# The body of each transition, as its link reads it (one class per kind of body, each its
# own name in the OpenAPI document).
class InflowStepIn(Schema):
    """Forward, resubmit: no fields."""


class InflowDecisionIn(Schema):
    reason: str = ""  # approve: optional; reject and request-info: required


class InflowTravelIn(Schema):
    planned_arrival: dt.date | None = None  # required (422 naming it when missing)


class InflowArrivalIn(Schema):
    temperature: float | None = None  # required, body temperature in °C
    healthy: bool | None = None  # required: the result of the health check


TRANSITION_BODIES = {"forward": InflowStepIn, "resubmit": InflowStepIn, "approve": InflowDecisionIn,
                     "reject": InflowDecisionIn, "request_info": InflowDecisionIn, "travel": InflowTravelIn,
                     "arrive": InflowArrivalIn}


@router.get("/inflow", response=list[ApplicationOut], summary="Applications in scope, overdue first", auth=api_perm("inflow.view"))
def list_applications(request, state: str = "open", limit: int = 100, offset: Offset = 0):
    if state not in ("open", "queue", "overdue", "all"):
        raise Invalid({"state": "state must be open, queue, overdue or all"})
    limit = min(max(limit, 1), 500)
    record(request.user, "inflow.list", detail={"state": state, "api": True})
    return list(board_queryset(request.user, state)[max(offset, 0): max(offset, 0) + limit])


@router.post("/inflow", response={201: ApplicationOut, 200: ApplicationOut}, summary="Link 1: apply for a return",
             auth=api_perm("inflow.apply"))
def create_application(request, payload: ApplyIn):
    place = _apply_places(request.user).filter(pk=payload.place_id).first()
    origin = Origin.objects.filter(pk=payload.origin_id).first()
    errors = {}
    if place is None:
        errors["place_id"] = "unknown place, or outside your jurisdiction"
    if origin is None:
        errors["origin_id"] = "unknown origin"
    if errors:
        raise Invalid(errors)
    app = actions.apply(acting_user=request.user, employer=_employer_of(request.user), place=place, address=payload.address,
                        origin=origin, purpose=payload.purpose, transport=payload.transport, client_key=payload.client_key,
                        person_fields={"name": payload.name, "id_number": payload.id_number, "phone": payload.phone})
    return Status(201 if app.created else 200, app)


@router.get("/inflow/{pk}", response=ApplicationOut, auth=api_perm("inflow.view", obj=Application))
def get_application(request, pk: int):
    app = get_in_scope(Application.objects.select_related("person", "origin"), request.user, "inflow.view", pk=pk)
    record(request.user, "inflow.view", obj=app, detail={"api": True})
    return app


def _take(request, app, name: str, payload: Schema):
    """Links 2–6 (payload: the transition's body of TRANSITION_BODIES)."""
    kwargs = {"reason": payload.reason} if name in ("approve", "reject", "request_info") else {}
    if name == "travel":
        kwargs["planned_arrival"] = payload.planned_arrival
    if name == "arrive":
        kwargs.update(temperature=payload.temperature, healthy=payload.healthy)
    app = actions.transition(acting_user=request.user, app=app, action=name, **kwargs)
    return Application.objects.select_related("person", "origin").get(pk=app.pk)


transition_ops(router, actions.TRANSITIONS, Application.objects.all(), path="/inflow/{pk}/", module=__name__,
               prefix="inflow", schema=TRANSITION_BODIES, response=ApplicationOut, take=_take)


class OriginOut(Schema):
    id: int
    name: str
    risk: str


@router.get("/inflow-origins", response=list[OriginOut], summary="Origins and their risk levels", auth=api_perm("inflow.view"))
def list_origins(request):
    return list(Origin.objects.all())


# --- Turnaround statistics ------------------------------------------------------------------

class StatOut(Schema):
    count: int
    median: float | None
    p90: float | None


class StatsRowOut(Schema):
    key: str
    label: str
    applications: int
    links: dict[str, StatOut]


class InflowStatsOut(Schema):
    date_from: dt.date
    date_to: dt.date
    links: list[str]
    total: StatsRowOut
    by_community: list[StatsRowOut]
    by_unit: list[StatsRowOut]


@router.get("/inflow-stats", response=InflowStatsOut, summary="Turnaround per link and end to end (minutes: median, p90)",
            auth=api_perm("inflow.view"))
def inflow_stats(request, date_from: dt.date | None = None, date_to: dt.date | None = None):
    default_from, default_to = queries.default_range()
    date_from, date_to = date_from or default_from, date_to or default_to
    if date_from > date_to:
        raise Invalid({"date_to": "the end date is before the start date"})
    if (date_to - date_from).days > 366:
        raise Invalid({"date_to": "choose at most one year"})
    data = queries.turnaround(request.user, date_from, date_to)
    record(request.user, "inflow.stats", detail={"from": date_from.isoformat(), "to": date_to.isoformat(), "api": True})
    return {**data, "links": [k for k, _label in data["links"]]}


# --- The policy table (admin) ---------------------------------------------------------------

class MeasurePolicyOut(Schema):
    id: int
    risk: str
    measure: str
    days: int


class PolicyOut(Schema):
    origins: list[OriginOut]
    measures: list[MeasurePolicyOut]


class OriginIn(Schema):
    name: str
    risk: str


class OriginRiskIn(Schema):
    risk: str


class MeasurePolicyIn(Schema):
    measure: str
    days: int


@router.get("/inflow-policy", response=PolicyOut, summary="The policy table: origins and measures", auth=api_perm("inflow.policy"))
def get_policy(request):
    return {"origins": list(Origin.objects.all()), "measures": list(MeasurePolicy.objects.all().order_by("risk"))}


@router.post("/inflow-origins", response={201: OriginOut}, summary="Add an origin with its risk level",
             auth=api_perm("inflow.policy"))
def create_origin(request, payload: OriginIn):
    origin = actions.create_origin(acting_user=request.user, name=payload.name, risk=payload.risk)
    return Status(201, origin)


@router.post("/inflow-origins/{pk}/risk", response=OriginOut, summary="Change an origin's risk level",
             auth=api_perm("inflow.policy", obj=Origin))
def set_origin_risk(request, pk: int, payload: OriginRiskIn):
    origin = get_in_scope(Origin.objects.all(), request.user, "inflow.policy", pk=pk)
    return actions.set_origin_risk(acting_user=request.user, origin=origin, risk=payload.risk)


@router.post("/inflow-policy/{pk}", response=MeasurePolicyOut, summary="Change the measure and days of a risk level",
             auth=api_perm("inflow.policy", obj=MeasurePolicy))
def set_measure_policy(request, pk: int, payload: MeasurePolicyIn):
    row = get_in_scope(MeasurePolicy.objects.all(), request.user, "inflow.policy", pk=pk)
    return actions.set_measure_policy(acting_user=request.user, policy=row, measure=payload.measure, days=payload.days)
