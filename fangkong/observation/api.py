"""JSON API of observation: the same actions and access checks as the pages, and the
resident device's own report by personal link (header X-Resident-Token)."""
from __future__ import annotations

import datetime as dt

from ninja import Field, Router, Schema, Status

from fangkong.lib.apitypes import Offset
from fangkong.audit.actions import record
from fangkong.lib.db import fastsql
from fangkong.web.operations import transition_ops
from fangkong.lib.workflow import Conflict, Invalid
from fangkong.places.access import api_perm, get_in_scope, link_auth
from fangkong.residents.api import PersonRef

from . import actions
from .models import Observation
from .views import board_queryset

router = Router(tags=["observation"])


class ObservationOut(PersonRef):
    # None once retention has cut the link to the person (observation/retention.py)
    person_id: int | None
    person_name: str | None = None
    id_masked: str | None = None
    id: int
    kind: str
    state: str
    start_date: dt.date
    planned_end: dt.date
    site_id: int | None
    room: str | None
    psych_support: bool
    open_fever: bool = Field(False, alias="fever")  # annotated on lists
    open_missed: bool = Field(False, alias="missed")

    @staticmethod
    def resolve_person_name(obj):
        return obj.person.name if obj.person_id else None

    @staticmethod
    def resolve_id_masked(obj):
        return obj.person.id_masked if obj.person_id else None

    @staticmethod
    def resolve_room(obj):
        return obj.room.number if obj.room_id else None


class ReportIn(Schema):
    temperature: str | float | None = None
    symptoms: list[str] = []
    source: str = "staff"
    client_key: str = ""


class TemperatureReportOut(Schema):
    id: int
    observation_id: int
    day: dt.date
    window: int
    temperature: float | None  # None once retention has cleared it
    symptoms: list[str]
    source: str
    fever: bool
    reported_at: dt.datetime


def _report(request, obs, payload: ReportIn, source: str, user):
    rep = actions.report(acting_user=user, observation=obs, temperature=payload.temperature, symptoms=payload.symptoms,
                         source=source, client_key=payload.client_key)
    return Status(201 if rep.created else 200, rep)


@router.get("/observations", response=list[ObservationOut], summary="Observations in scope, alerts first",
            auth=api_perm("observation.view"))
def list_observations(request, state: str = "open", limit: int = 100, offset: Offset = 0):
    if state not in ("open", "attention", "ended"):
        raise Invalid({"state": "state must be open, attention or ended"})
    limit = min(max(limit, 1), 500)
    record(request.user, "observation.list", detail={"state": state, "api": True})
    return list(board_queryset(request.user, state)[max(offset, 0): max(offset, 0) + limit])


@router.get("/observations/{pk}", response=ObservationOut, auth=api_perm("observation.view", obj=Observation))
def get_observation(request, pk: int):
    obs = get_in_scope(Observation.objects.select_related("person", "room"), request.user, "observation.view", pk=pk)
    record(request.user, "observation.view", obj=obs, detail={"api": True})
    return obs


@router.post("/observations/{pk}/reports", response={201: TemperatureReportOut, 200: TemperatureReportOut},
             summary="A temperature measured by staff or after a video check",
             auth=api_perm("observation.report", obj=Observation))
def staff_report(request, pk: int, payload: ReportIn):
    obs = get_in_scope(Observation.objects.select_related("person"), request.user, "observation.report", pk=pk)
    if payload.source not in ("staff", "video"):
        raise Invalid({"source": "staff or video"})
    return _report(request, obs, payload, payload.source, request.user)


class ResidentReportIn(Schema):
    temperature: str | float | None = None
    symptoms: list[str] = []
    client_key: str = ""


@router.post("/resident/reports", response={201: TemperatureReportOut, 200: TemperatureReportOut},
             summary="The resident's own temperature report (personal link token in X-Resident-Token)",
             auth=link_auth())
def resident_report(request, payload: ResidentReportIn):
    obs = fastsql.get(Observation, ("person",), order_by="-created_at", person=request.resident_id)
    if obs is None:
        raise Conflict("not under observation")
    return _report(request, obs, ReportIn(temperature=payload.temperature, symptoms=payload.symptoms,
                                          client_key=payload.client_key), "self", None)


# --- Staff actions ----------------------------------------------------------------------

class StartIn(Schema):
    person_id: int
    kind: str
    days: int = 14
    site_id: int | None = None
    reason: str = ""


@router.post("/observations", response={201: ObservationOut}, summary="Start a control measure for a registered person",
             auth=api_perm("observation.start"))
def start_observation(request, payload: StartIn):
    from fangkong.places.access import scope
    from fangkong.places.models import Organization
    from fangkong.residents.models import Person

    person = scope(Person.objects.all(), request.user, "observation.start").filter(pk=payload.person_id).first()
    site = Organization.objects.filter(pk=payload.site_id, kind="site").first() if payload.site_id else None
    errors = {}
    if person is None:
        errors["person_id"] = "unknown person, or outside your jurisdiction"
    if payload.site_id and site is None:
        errors["site_id"] = "unknown observation site"
    if errors:
        raise Invalid(errors)
    obs = actions.start(acting_user=request.user, person=person, kind=payload.kind, days=payload.days, site=site,
                        reason=payload.reason)
    return Status(201, obs)


class ObservationTransitionIn(Schema):
    note: str = ""
    days: int | None = None


def _take(request, obs, name: str, payload: ObservationTransitionIn):
    obs = actions.transition(acting_user=request.user, observation=obs, action=name, note=payload.note, days=payload.days)
    return Observation.objects.select_related("person", "room").get(pk=obs.pk)


transition_ops(router, actions.TRANSITIONS, Observation.objects.all(), path="/observations/{pk}/", module=__name__,
               prefix="observation", schema=ObservationTransitionIn, response=ObservationOut, take=_take)


class RoomIn(Schema):
    room_id: int | None = None


@router.post("/observations/{pk}/room", response=ObservationOut, summary="Assign a room of a site, or free it (room_id null)",
             auth=api_perm("observation.manage", obj=Observation))
def assign_room(request, pk: int, payload: RoomIn):
    from .models import Room

    obs = get_in_scope(Observation.objects.all(), request.user, "observation.manage", pk=pk)
    room = Room.objects.filter(pk=payload.room_id, active=True).first() if payload.room_id else None
    if payload.room_id and room is None:
        raise Invalid({"room_id": "unknown room"})
    actions.assign_room(acting_user=request.user, observation=obs, room=room)
    return Observation.objects.select_related("person", "room").get(pk=obs.pk)


class HandleIn(Schema):
    alert_id: int | None = None
    request_id: int | None = None
    note: str = ""


class DoneOut(Schema):
    ok: bool


@router.post("/observations/{pk}/handle", response=DoneOut,
             summary="Mark an alert handled (alert_id) or a supply request delivered (request_id)",
             auth=api_perm("observation.handle", obj=Observation))
def handle(request, pk: int, payload: HandleIn):
    obs = get_in_scope(Observation.objects.all(), request.user, "observation.handle", pk=pk)
    alert = obs.alerts.filter(pk=payload.alert_id).first() if payload.alert_id else None
    req = obs.requests.filter(pk=payload.request_id).first() if payload.request_id else None
    if (alert is None) == (req is None):  # exactly one of them, so nothing is done half-way
        raise Invalid({"alert_id": "name one alert or one request of this observation"})
    if alert is not None:
        actions.handle_alert(acting_user=request.user, alert=alert, note=payload.note)
    if req is not None:
        actions.deliver_request(acting_user=request.user, request=req)
    return {"ok": True}


# --- The resident's device ----------------------------------------------------------------

class SupplyIn(Schema):
    kind: str = ""
    text: str = ""
    client_key: str = ""


@router.post("/resident/requests", response={201: DoneOut}, summary="The resident's request for supplies or medicine",
             auth=link_auth())
def resident_request(request, payload: SupplyIn):
    obs = Observation.objects.filter(person_id=request.resident_id).order_by("-created_at").first()
    if obs is None:
        raise Conflict("not under observation")
    actions.request_supplies(acting_user=None, observation=obs, kind=payload.kind, text=payload.text,
                             client_key=payload.client_key)
    return Status(201, {"ok": True})
