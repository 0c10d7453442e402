"""JSON API of observation: the same actions and access checks as the pages, and the
resident device's own report by personal link (header X-Resident-Token)."""
from __future__ import annotations

import datetime as dt

from ninja import Router, Schema, Status
from ninja.errors import HttpError

from fangkong.audit.actions import record
from fangkong.places.access import api_perm, get_in_scope, link_auth
from fangkong.residents.api import FieldErrors

from . import actions
from .models import Observation, Report
from .views import board_queryset

router = Router(tags=["observation"])


class ObservationOut(Schema):
    id: int
    person_id: int
    person_name: str
    id_masked: str
    kind: str
    state: str
    start_date: dt.date
    planned_end: dt.date
    site_id: int | None
    room: str | None
    psych_support: bool
    open_fever: bool = False
    open_missed: bool = False

    @staticmethod
    def resolve_person_name(obj):
        return obj.person.name

    @staticmethod
    def resolve_id_masked(obj):
        return obj.person.id_masked

    @staticmethod
    def resolve_room(obj):
        return obj.room.number if obj.room_id else None

    @staticmethod
    def resolve_open_fever(obj):
        return bool(getattr(obj, "fever", False))

    @staticmethod
    def resolve_open_missed(obj):
        return bool(getattr(obj, "missed", False))


class ReportIn(Schema):
    temperature: str | float | None = None
    symptoms: list[str] = []
    source: str = "staff"
    client_key: str = ""


class ReportOut(Schema):
    id: int
    observation_id: int
    day: dt.date
    window: int
    temperature: float
    symptoms: list[str]
    source: str
    fever: bool
    reported_at: dt.datetime


def _report(request, obs, payload: ReportIn, source: str, user):
    before = Report.objects.filter(client_key=payload.client_key, observation=obs).first() if payload.client_key else None
    try:
        rep = actions.report(acting_user=user, observation=obs, temperature=payload.temperature, symptoms=payload.symptoms,
                             source=source, client_key=payload.client_key)
    except actions.Invalid as exc:
        raise FieldErrors(exc.errors) from None
    except actions.Conflict as exc:
        raise HttpError(409, str(exc)) from None
    return Status(200 if before is not None else 201, rep)


@router.get("/observations", response=list[ObservationOut], summary="Observations in scope, alerts first",
            auth=api_perm("observation.view"))
def list_observations(request, state: str = "open", limit: int = 100, offset: int = 0):
    if state not in ("open", "attention", "ended"):
        raise HttpError(422, "state must be open, attention or ended")
    limit = min(max(limit, 1), 500)
    record(request.user, "observation.list", detail={"state": state, "api": True})
    return list(board_queryset(request.user, state)[max(offset, 0): max(offset, 0) + limit])


@router.get("/observations/{pk}", response=ObservationOut, auth=api_perm("observation.view", obj=Observation))
def get_observation(request, pk: int):
    obs = get_in_scope(Observation.objects.select_related("person", "room"), request.user, "observation.view", pk=pk)
    record(request.user, "observation.view", obj=obs, detail={"api": True})
    return obs


@router.post("/observations/{pk}/reports", response={201: ReportOut, 200: ReportOut},
             summary="A temperature measured by staff or after a video check",
             auth=api_perm("observation.report", obj=Observation))
def staff_report(request, pk: int, payload: ReportIn):
    obs = get_in_scope(Observation.objects.select_related("person"), request.user, "observation.report", pk=pk)
    if payload.source not in ("staff", "video"):
        raise FieldErrors({"source": "staff or video"})
    return _report(request, obs, payload, payload.source, request.user)


class ResidentReportIn(Schema):
    temperature: str | float | None = None
    symptoms: list[str] = []
    client_key: str = ""


@router.post("/resident/reports", response={201: ReportOut, 200: ReportOut},
             summary="The resident's own temperature report (personal link token in X-Resident-Token)",
             auth=link_auth())
def resident_report(request, payload: ResidentReportIn):
    obs = Observation.objects.filter(person=request.resident).order_by("-created_at").first()
    if obs is None:
        raise HttpError(409, "not under observation")
    return _report(request, obs, ReportIn(temperature=payload.temperature, symptoms=payload.symptoms,
                                          client_key=payload.client_key), "self", None)
