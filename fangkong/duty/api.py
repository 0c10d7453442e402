"""JSON API of people on duty: the phone's own shifts and its check-in queue (sent in
batches, a client id per entry: a resend stores once), the health check-in, a site's board
and the sending organization's figures. Names only, never an ID number or phone."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from ninja import Router, Schema, Status

from fangkong.lib.workflow import Conflict, Invalid
from fangkong.places.access import api_perm, get_in_scope, scope
from fangkong.places.models import Organization, Place

from . import actions, queries
from .models import Assignment, Deployment, SentDeployment

router = Router(tags=["duty"])
BATCH = 200


class AssignmentOut(Schema):
    id: int
    shift_id: int
    site_id: int
    post: str
    post_label: str
    group: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    state: str
    checkin_at: dt.datetime | None
    checkout_at: dt.datetime | None
    late: bool
    clock_skew: bool
    auto_closed: bool
    minutes: int


def assignment_out(a: Assignment) -> dict:
    s = a.shift
    return {"id": a.pk, "shift_id": s.pk, "site_id": a.site_id, "post": s.post, "post_label": s.post_label, "group": s.group,
            "starts_at": s.starts_at, "ends_at": s.ends_at, "state": a.state, "checkin_at": a.checkin_at,
            "checkout_at": a.checkout_at, "late": a.late, "clock_skew": a.clock_skew, "auto_closed": a.auto_closed,
            "minutes": a.minutes}


@router.get("/duty/me", response=list[AssignmentOut], auth=api_perm("duty.self"))
def my_shifts(request, days: int = 7):
    """The signed-in person's own shifts from yesterday to `days` ahead (at most 31)."""
    if not 0 <= days <= 31:
        raise Invalid({"days": "days lies between 0 and 31"})
    now = timezone.now()
    qs = Assignment.objects.filter(user=request.user, shift__ends_at__gt=now - dt.timedelta(days=1),
                                   shift__starts_at__lt=now + dt.timedelta(days=days)).select_related("shift")
    return [assignment_out(a) for a in qs]


class CheckBatchIn(Schema):
    entries: list[dict[str, Any]]
    sent_at: str | None = None  # the device's clock when it sent the batch


class HealthDone(Schema):
    client_id: str
    state: str
    day: dt.date
    temperature: float
    removed: list[int]  # the person's assignments taken off for health (from then on)


class CheckBatchOut(Schema):
    accepted: list[str]
    rejected: list[dict[str, Any]]
    assignments: list[AssignmentOut]
    health: list[HealthDone] = []


@router.post("/duty/checks/batch", response=CheckBatchOut, auth=api_perm("duty.self"))
def checks_batch(request, payload: CheckBatchIn):
    """The phone's queue of check-ins and check-outs: each entry {client_id, assignment,
    direction "in"/"out", device_at, offline, post_code?, note?}, and of daily health
    check-ins: {kind: "health", client_id, temperature, symptoms, device_at, offline}.
    Accepted: stored now or before (same client_id); rejected: with the reason per field
    (someone else's shift, checked in twice, out before in, a bad temperature...), nothing
    stored for it."""
    if len(payload.entries) > BATCH:
        raise Invalid({"entries": f"at most {BATCH} entries per batch"})
    accepted, rejected, out, health = [], [], {}, []
    for e in payload.entries:
        cid = str(e.get("client_id") or "")[:64] if isinstance(e, dict) else ""
        if not cid:
            rejected.append({"client_id": "", "errors": {"client_id": "required"}})
            continue
        try:
            if e.get("kind") == "health":
                with transaction.atomic():
                    hc = actions.health_checkin(acting_user=request.user, temperature=e.get("temperature"),
                                                symptoms=e.get("symptoms") or [], client_id=cid,
                                                device_at=e.get("device_at"), offline=bool(e.get("offline")))
                removed = Assignment.objects.filter(user=request.user, state=Assignment.State.REMOVED, removed_reason="health",
                                                    shift__ends_at__gt=hc.reported_at).values_list("pk", flat=True)
                health.append({"client_id": cid, "state": hc.state, "day": hc.day, "temperature": float(hc.temperature),
                               "removed": list(removed)})
                accepted.append(cid)
                continue
            with transaction.atomic():
                a, _created = actions.check(acting_user=request.user, assignment_id=e.get("assignment"),
                                            direction=str(e.get("direction") or ""), client_id=cid,
                                            device_at=e.get("device_at"), sent_at=payload.sent_at,
                                            offline=bool(e.get("offline")), post_code=str(e.get("post_code") or ""),
                                            note=str(e.get("note") or ""))
        except Invalid as exc:
            rejected.append({"client_id": cid, "errors": {k: str(v) for k, v in exc.errors.items()}})
            continue
        except Conflict as exc:
            rejected.append({"client_id": cid, "errors": {"state": str(exc)}})
            continue
        accepted.append(cid)
        out[a.pk] = a
    fresh = Assignment.objects.filter(pk__in=list(out)).select_related("shift")
    return {"accepted": accepted, "rejected": rejected, "assignments": [assignment_out(a) for a in fresh], "health": health}


class HealthIn(Schema):
    temperature: str | float | None = None
    symptoms: list[str] = []
    client_id: str = ""


class HealthOut(Schema):
    id: int
    day: dt.date
    temperature: float
    symptoms: list[str]
    state: str
    removed_from: int


@router.post("/duty/health", response=HealthOut, auth=api_perm("duty.self"))
def health(request, payload: HealthIn):
    """The daily health check-in; a fever or symptom takes the person off their remaining shifts."""
    before = Assignment.objects.filter(user=request.user, state=Assignment.State.REMOVED, removed_reason="health").count()
    hc = actions.health_checkin(acting_user=request.user, temperature=payload.temperature, symptoms=payload.symptoms,
                                client_id=payload.client_id)
    after = Assignment.objects.filter(user=request.user, state=Assignment.State.REMOVED, removed_reason="health").count()
    return {"id": hc.pk, "day": hc.day, "temperature": float(hc.temperature), "symptoms": hc.symptoms, "state": hc.state,
            "removed_from": after - before}


class PersonRow(Schema):
    deployment_id: int
    name: str
    site_id: int
    site: str
    kind: str
    on_duty: bool
    late: int
    hours: float
    unwell: bool
    health_today: bool
    needs: str


class BoardOut(Schema):
    site_id: int
    totals: dict[str, float]
    people: list[PersonRow]


def _rows(rows):
    return [{"deployment_id": r["deployment"].pk, "name": r["name"], "site_id": r["site"].pk, "site": r["site"].name,
             "kind": r["deployment"].kind, "on_duty": r["on_duty"], "late": r["late"], "hours": r["hours"],
             "unwell": r["unwell"], "health_today": r["health_today"], "needs": r["needs"]} for r in rows]


@router.get("/duty/sites/{pk}/board", response=BoardOut, auth=api_perm("duty.view", obj=Organization))
def site_board(request, pk: int):
    """A site's people now: on duty, late this week, hours this week, health, needs."""
    site = get_in_scope(Organization.objects.filter(kind="site"), request.user, "duty.view", pk=pk)
    rows = queries.people_figures(Deployment.objects.filter(site=site, state=Deployment.State.ACTIVE))
    return {"site_id": site.pk, "totals": queries.totals(rows), "people": _rows(rows)}


class SenderOut(Schema):
    totals: dict[str, float]
    people: list[PersonRow]


@router.get("/duty/sender", response=SenderOut, auth=api_perm("duty.sender"))
def sender(request):
    """The sending organization's own people (its liaison's grant), in real time."""
    rows = queries.people_figures(scope(SentDeployment.objects.filter(state=Deployment.State.ACTIVE), request.user,
                                        "duty.sender"))
    return {"totals": queries.totals(rows), "people": _rows(rows)}


class PolicePassIn(Schema):
    name: str = ""
    phone: str = ""
    reason: str = ""
    hours: int | str | None = None
    host_household_id: int | None = None


class PolicePassOut(Schema):
    id: int
    serial: str | None
    masked: str
    place_id: int
    valid_until: dt.datetime
    token: str


@router.post("/duty/police/places/{pk}/passes", response={201: PolicePassOut},
             summary="The police issue a temporary pass valid at a place of theirs, where the street allows it",
             auth=api_perm("duty.police_pass", obj=Place))
def police_pass(request, pk: int, payload: PolicePassIn):
    """403 where the street does not allow the police to issue temporary passes (or for
    longer than it allows: 400 naming the hours), 404 for a place outside one's own area."""
    from fangkong.residents.models import Household

    place = get_in_scope(Place.objects.filter(kind__in=actions.POLICE_PASS_PLACE_KINDS), request.user,
                         "duty.police_pass", pk=pk)
    host = None
    if payload.host_household_id:
        host = Household.objects.filter(pk=payload.host_household_id, place_path__under=place.path).first()
        if host is None:
            raise Invalid({"host_household_id": "No household with this id is registered there"})
    pass_, token = actions.police_issue_pass(acting_user=request.user, place=place, name=payload.name,
                                             phone=payload.phone, reason=payload.reason, hours=payload.hours,
                                             host_household=host)
    return Status(201, {"id": pass_.pk, "serial": pass_.serial, "masked": pass_.masked, "place_id": pass_.place_id,
                        "valid_until": pass_.valid_until, "token": token})
