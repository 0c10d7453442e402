"""JSON API of resident services and the hotline: the same actions and access checks as the pages."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile

from fangkong.lib.workflow import Conflict, Invalid
from fangkong.places.access import api_perm, get_in_scope, link_auth, scope

from . import actions, queries
from .models import Call, GroupOrder, Ring, Round, ServiceRequest

router = Router(tags=["services"])


class SvcTaskOut(Schema):
    """A request as its deliverer sees it: the address, never the ID; the phone masked."""

    id: int
    kind: str
    text: str
    state: str
    priority: bool
    due_at: dt.datetime
    address: str | None = None
    phone_masked: str | None = None
    spent: Decimal | None
    paid: Decimal | None
    mine: bool = False

    @staticmethod
    def resolve_address(obj, context):
        return obj.address if obj.assignee_id == context["request"].user.pk else None

    @staticmethod
    def resolve_phone_masked(obj, context):
        return obj.person.phone_masked if obj.assignee_id == context["request"].user.pk else None

    @staticmethod
    def resolve_mine(obj, context):
        return obj.assignee_id == context["request"].user.pk


class SvcRequestOut(Schema):
    id: int
    person_id: int
    kind: str
    text: str
    state: str
    source: str
    priority: bool
    priority_reason: str
    due_at: dt.datetime
    assignee_id: int | None
    created_at: dt.datetime


@router.get("/services/tasks", response=list[SvcTaskOut], summary="My tasks and the open requests of my area",
            auth=api_perm("services.deliver"))
def list_tasks(request):
    return [*queries.my_tasks(request.user).select_related("person")[:100], *queries.pool(request.user).select_related("person")[:50]]


class SvcTaskIn(Schema):
    amount: str | None = None
    code: str = ""


def _task_op(name):
    def op(request, pk: int, payload: SvcTaskIn):
        req = queries.task_for(request.user, pk)
        actions.transition(acting_user=request.user, request=req, action=name, amount=payload.amount, code=payload.code)
        return ServiceRequest.objects.select_related("person").get(pk=pk)

    op.__name__ = f"services_task_{name}"
    router.add_api_operation(f"/services/tasks/{{pk}}/{name}", ["POST"], op, response=SvcTaskOut,
                             summary=str(actions.TRANSITIONS[name].label),
                             auth=api_perm("services.deliver", obj=ServiceRequest))


for _name in ("accept", "bought", "deliver", "settle"):
    _task_op(_name)


class SvcReceiptOut(Schema):
    id: int
    name: str
    size: int


@router.post("/services/tasks/{pk}/receipt", response={201: SvcReceiptOut},
             summary="The receipt's photo of my task's purchase (multipart field file; JPEG/PNG, size checked; "
                     "private, shown to the committee)", auth=api_perm("services.deliver", obj=ServiceRequest))
def task_receipt(request, pk: int, file: File[UploadedFile] = None):  # optional: the scope first (404), then the file
    req = queries.task_for(request.user, pk)
    if file is None:
        raise Invalid({"file": _("Choose a photo of the receipt")})
    att = actions.attach_receipt(acting_user=request.user, request=req, file=file)
    return Status(201, att)


@router.get("/services/requests", response=list[SvcRequestOut], summary="Service requests in scope (open, overdue or done)",
            auth=api_perm("services.view"))
def list_requests(request, state: str = "open"):
    if state not in ("open", "overdue", "done"):
        raise Invalid({"state": "open, overdue or done"})
    return list(queries.board(request.user, state)[:500])


class SvcRequestIn(Schema):
    person_id: int
    kind: str
    text: str


@router.post("/services/requests", response={201: SvcRequestOut}, summary="A request on a resident's behalf",
             auth=api_perm("services.request"))
def create_request(request, payload: SvcRequestIn):
    from fangkong.residents.models import Person

    person = scope(Person.objects.all(), request.user, "services.request").filter(pk=payload.person_id).first()
    if person is None:
        raise Invalid({"person_id": "unknown person, or outside your jurisdiction"})
    req = actions.create_request(acting_user=request.user, person=person, kind=payload.kind, text=payload.text,
                                 source=ServiceRequest.Source.STAFF)
    return Status(201, req)


class SvcResidentRequestOut(Schema):
    id: int
    kind: str
    text: str
    state: str
    code: str
    due_at: dt.datetime


class SvcResidentRequestIn(Schema):
    kind: str
    text: str
    client_key: str = ""


@router.get("/resident/services", response=list[SvcResidentRequestOut], summary="The resident's own service requests",
            auth=link_auth())
def resident_requests(request):
    return list(ServiceRequest.objects.filter(person_id=request.resident_id).order_by("-created_at")[:50])


@router.post("/resident/services", response={201: SvcResidentRequestOut}, summary="The resident asks for medicine, groceries...",
             auth=link_auth())
def resident_request(request, payload: SvcResidentRequestIn):
    req = actions.create_request(acting_user=None, person=request.resident, kind=payload.kind, text=payload.text,
                                 source=ServiceRequest.Source.LINK, client_key=payload.client_key)
    return Status(201, req)


class SvcLineIn(Schema):  # every field optional: the scope is checked first (404), then the fields (422)
    household_id: int | None = None
    item: str = ""
    quantity: int | None = None


class SvcDone(Schema):
    ok: bool


@router.post("/services/orders/{pk}/lines", response=SvcDone, summary="A household's quantity of an item in a group order",
             auth=api_perm("services.order_add", obj=GroupOrder))
def order_line(request, pk: int, payload: SvcLineIn):
    from fangkong.residents.models import Household

    order = get_in_scope(GroupOrder.objects.all(), request.user, "services.order_add", pk=pk)
    hh = scope(Household.objects.all(), request.user, "services.order_add").filter(pk=payload.household_id).first()
    if hh is None:
        raise Invalid({"household_id": "unknown household, or outside your jurisdiction"})
    actions.set_quantity(acting_user=request.user, order=order, household=hh, item=payload.item, quantity=payload.quantity)
    return {"ok": True}


class SvcHandoverIn(Schema):
    room: str = ""
    household_id: int | None = None
    client_id: str = ""


class SvcHandoverOut(Schema):
    household_id: int
    address: str
    at: dt.datetime
    already: bool = False


@router.post("/services/rounds/{pk}/handovers", response={201: SvcHandoverOut, 200: SvcHandoverOut},
             summary="Mark a household's collection at a point (by room number or household code). A resend with the "
                     "same client_id answers 200 with the first mark (already: true); another mark of the household is 409",
             auth=api_perm("services.handover", obj=Round))
def handover(request, pk: int, payload: SvcHandoverIn):
    rnd = get_in_scope(Round.objects.select_related("point"), request.user, "services.handover", pk=pk)
    hh = actions.find_household(rnd, room=payload.room, household_id=payload.household_id)
    h = actions.hand_over(acting_user=request.user, rnd=rnd, household=hh, door=rnd.state == Round.State.CLOSED,
                          client_id=payload.client_id)
    return Status(200 if h.already else 201, {"household_id": hh.pk, "address": hh.address, "at": h.at,
                                              "already": h.already})


HANDOVER_BATCH = 200


class SvcHandoverEntry(Schema):
    client_id: str = ""
    round: int | None = None
    room: str = ""
    household_id: int | None = None
    device_at: dt.datetime | None = None


class SvcHandoverBatchIn(Schema):
    entries: list[SvcHandoverEntry]


class SvcHandoverRecorded(Schema):
    client_id: str
    address: str
    already: bool


class SvcHandoverRejected(Schema):
    client_id: str
    room: str
    errors: dict[str, str]


class SvcHandoverBatchOut(Schema):
    recorded: list[SvcHandoverRecorded]
    rejected: list[SvcHandoverRejected]


def _mark_time(device_at):
    """When the phone marked it (queued offline), if that is believable: not in the future,
    not more than a day ago; else now."""
    now = timezone.now()
    if device_at is None:
        return now
    if timezone.is_naive(device_at):
        device_at = timezone.make_aware(device_at)
    return device_at if now - dt.timedelta(days=1) <= device_at <= now else now


@router.post("/services/handovers/batch", response=SvcHandoverBatchOut, auth=api_perm("services.handover"),
             summary="A phone's queue of hand-overs, each {client_id, round, room | household_id, device_at}: "
                     "recorded (already: true when sent before under the same client_id) or rejected with the reason")
def handover_batch(request, payload: SvcHandoverBatchIn):
    if len(payload.entries) > HANDOVER_BATCH:
        raise Invalid({"entries": f"at most {HANDOVER_BATCH} entries per batch"})
    rounds = scope(Round.objects.select_related("point"), request.user, "services.handover")
    recorded, rejected = [], []
    for e in payload.entries:
        cid = str(e.client_id or "").strip()[:64]
        room = str(e.room or "")[:40]
        if not cid:
            rejected.append({"client_id": "", "room": room, "errors": {"client_id": str(_("required"))}})
            continue
        rnd = rounds.filter(pk=e.round).first() if e.round else None
        try:
            if rnd is None:
                raise Invalid({"round": _("Unknown distribution round")})
            with transaction.atomic():
                hh = actions.find_household(rnd, room=room, household_id=e.household_id)
                h = actions.hand_over(acting_user=request.user, rnd=rnd, household=hh,
                                      door=rnd.state == Round.State.CLOSED, client_id=cid, at=_mark_time(e.device_at))
        except Invalid as exc:
            rejected.append({"client_id": cid, "room": room, "errors": {k: str(v) for k, v in exc.errors.items()}})
            continue
        except Conflict as exc:
            rejected.append({"client_id": cid, "room": room, "errors": {"household": str(exc)}})
            continue
        recorded.append({"client_id": cid, "address": hh.address, "already": h.already})
    return {"recorded": recorded, "rejected": rejected}


class SvcCallOut(Schema):
    id: int
    received_at: dt.datetime
    caller_name: str
    phone_masked: str
    topic: str
    question: str
    answer: str
    owner_id: int
    state: str
    follow_up_due: dt.datetime | None
    outcome: str


class SvcCallIn(Schema):
    topic: str
    question: str
    answer: str = ""
    caller_name: str = ""
    phone: str = ""


@router.get("/hotline/calls", response=list[SvcCallOut], summary="My open calls (owned or offered to me)",
            auth=api_perm("services.hotline"))
def my_calls(request):
    return list(queries.my_calls(request.user)[:100])


@router.post("/hotline/calls", response={201: SvcCallOut}, summary="Record a call answered now: the caller's case is mine",
             auth=api_perm("services.hotline"))
def new_call(request, payload: SvcCallIn):
    call = actions.new_call(acting_user=request.user, topic=payload.topic, question=payload.question, answer=payload.answer,
                            caller_name=payload.caller_name, phone=payload.phone)
    return Status(201, call)


class SvcAnswerIn(Schema):
    topic: str = ""
    question: str = ""
    answer: str = ""


@router.post("/hotline/rings/{pk}/answer", response={201: SvcCallOut},
             summary="Answer a waiting call: the first to answer owns it; the second gets 409",
             auth=api_perm("services.hotline", obj=Ring))
def answer_ring(request, pk: int, payload: SvcAnswerIn):
    ring = get_in_scope(Ring.objects.all(), request.user, "services.hotline", pk=pk)
    call = actions.new_call(acting_user=request.user, topic=payload.topic, question=payload.question, answer=payload.answer,
                            ring_=ring)
    return Status(201, call)


class SvcCloseIn(Schema):
    outcome: str = ""


@router.post("/hotline/calls/{pk}/close", response=SvcCallOut, summary="Close my call with its outcome",
             auth=api_perm("services.hotline", obj=Call))
def close_call(request, pk: int, payload: SvcCloseIn):
    call = get_in_scope(Call.objects.all(), request.user, "services.hotline", pk=pk)
    return actions.close_call(acting_user=request.user, call=call, outcome=payload.outcome)
