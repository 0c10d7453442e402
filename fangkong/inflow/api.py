"""JSON API of the inflow closed loop: the same actions and access checks as the pages."""
from __future__ import annotations

import datetime as dt

from ninja import Router, Schema, Status
from ninja.errors import HttpError

from fangkong.audit.actions import record
from fangkong.places.access import api_perm, get_in_scope
from fangkong.residents.api import FieldErrors

from . import actions
from .models import Application, Origin
from .views import _apply_places, _employer_of, board_queryset

router = Router(tags=["inflow"])


class ApplicationOut(Schema):
    id: int
    serial: str
    state: str
    person_id: int
    person_name: str
    id_masked: str
    origin: str
    risk: str
    place_id: int
    employer_id: int | None
    submitted_at: dt.datetime
    forwarded_at: dt.datetime | None
    review_due_at: dt.datetime | None
    decided_at: dt.datetime | None
    pushed_at: dt.datetime | None
    planned_arrival: dt.date | None
    arrived_at: dt.datetime | None
    decision_reason: str
    measure: str
    measure_start: dt.date | None
    measure_end: dt.date | None

    @staticmethod
    def resolve_person_name(obj):
        return obj.person.name

    @staticmethod
    def resolve_id_masked(obj):
        return obj.person.id_masked

    @staticmethod
    def resolve_origin(obj):
        return obj.origin.name


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


class TransitionIn(Schema):
    reason: str = ""
    planned_arrival: dt.date | None = None
    temperature: float | None = None
    healthy: bool | None = None


@router.get("/inflow", response=list[ApplicationOut], summary="Applications in scope, overdue first", auth=api_perm("inflow.view"))
def list_applications(request, state: str = "open", limit: int = 100, offset: int = 0):
    if state not in ("open", "queue", "overdue", "all"):
        raise HttpError(422, "state must be open, queue, overdue or all")
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
        raise FieldErrors(errors)
    before = Application.objects.filter(client_key=payload.client_key).first() if payload.client_key else None
    try:
        app = actions.apply(acting_user=request.user, employer=_employer_of(request.user), place=place, address=payload.address,
                            origin=origin, purpose=payload.purpose, transport=payload.transport, client_key=payload.client_key,
                            person_fields={"name": payload.name, "id_number": payload.id_number, "phone": payload.phone})
    except actions.Invalid as exc:
        raise FieldErrors(exc.errors) from None
    except actions.Conflict as exc:
        raise HttpError(409, str(exc)) from None
    return Status(200 if before is not None else 201, app)


@router.get("/inflow/{pk}", response=ApplicationOut, auth=api_perm("inflow.view", obj=Application))
def get_application(request, pk: int):
    app = get_in_scope(Application.objects.select_related("person", "origin"), request.user, "inflow.view", pk=pk)
    record(request.user, "inflow.view", obj=app, detail={"api": True})
    return app


def _transition_op(name: str):
    t = actions.TRANSITIONS[name]

    def op(request, pk: int, payload: TransitionIn):
        app = get_in_scope(Application.objects.all(), request.user, t.perm, pk=pk)
        kwargs = {"reason": payload.reason} if name in ("approve", "reject", "request_info") else {}
        if name == "travel":
            kwargs["planned_arrival"] = payload.planned_arrival
        if name == "arrive":
            kwargs.update(temperature=payload.temperature, healthy=payload.healthy)
        try:
            app = actions.transition(acting_user=request.user, app=app, action=name, **kwargs)
        except actions.Conflict as exc:
            raise HttpError(409, str(exc)) from None
        except actions.Invalid as exc:
            raise FieldErrors(exc.errors) from None
        return Application.objects.select_related("person", "origin").get(pk=app.pk)

    op.__name__ = f"inflow_{name}"
    router.add_api_operation(f"/inflow/{{pk}}/{name.replace('_', '-')}", ["POST"], op, response=ApplicationOut,
                             summary=f"{t.label}", auth=api_perm(t.perm, obj=Application))


for _name in actions.TRANSITIONS:
    _transition_op(_name)


class OriginOut(Schema):
    id: int
    name: str
    risk: str


@router.get("/inflow-origins", response=list[OriginOut], summary="Origins and their risk levels", auth=api_perm("inflow.view"))
def list_origins(request):
    return list(Origin.objects.all())
