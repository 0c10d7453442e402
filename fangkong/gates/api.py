"""JSON API of the gates, for the gate page (online and when it syncs its offline queue)
and for other gate devices. A guard's responses hold the pass's colour and masked name
only, never an ID number or phone."""
from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Body, Router, Schema, Status

from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm, get_in_scope, places_in_scope

from . import actions, passcheck, queries
from .models import GateEntry

router = Router(tags=["gates"])


class TrustOut(Schema):
    keys: dict[str, str]
    revoked: list[int]
    as_of: str


class GateCheckIn(Schema):
    token: str
    place: int | None = None  # the gate's checkpoint: a visitor pass admits only at its host compound


class GateCheckOut(Schema):
    ok: bool
    reason_code: str
    reason: str
    kind: str
    colour: str
    masked: str
    expires: int | None


class GateEntryOut(Schema):
    id: int
    client_id: str
    place_id: int
    direction: str
    subject: str
    colour: str
    masked: str
    plate: str
    temperature: float | None
    decision: str
    reason_code: str
    reason: str
    flagged: bool
    offline: bool
    occurred_at: dt.datetime
    triage_id: int | None = None
    created: bool = False


class BatchIn(Schema):
    entries: list[dict[str, Any]]


class BatchOut(Schema):
    stored: int
    duplicates: int
    accepted: list[str]
    rejected: list[dict[str, Any]]
    entries: list[dict[str, Any]]


class StatsRow(Schema):
    place_id: int
    place_name: str
    place_code: str
    people_in: int
    people_out: int
    vehicles_in: int
    vehicles_out: int
    refused: int
    flagged: int
    fevers: int
    total: int


class GateStatsOut(Schema):
    day: dt.date
    rows: list[StatsRow]


def entry_out(entry: GateEntry, created: bool) -> dict:
    # A new entry knows its triage visit (record_entry opened it, or none); a resend looks it up.
    from fangkong.clinic.models import Visit

    triage = getattr(entry, "triage_id", None) if created else (
        Visit.objects.filter(gate_entry_id=entry.pk).values_list("pk", flat=True).first())
    return {
        "id": entry.pk, "client_id": str(entry.client_id), "place_id": entry.place_id, "direction": entry.direction,
        "subject": entry.subject, "colour": entry.colour, "masked": entry.masked, "plate": entry.plate,
        "temperature": float(entry.temperature) if entry.temperature is not None else None,
        "decision": entry.decision, "reason_code": entry.reason_code,
        "reason": entry.reason_text or (actions.reason_text(entry.reason_code) if entry.reason_code else ""),
        "flagged": entry.flagged, "offline": entry.offline, "occurred_at": entry.occurred_at, "triage_id": triage,
        "created": created,
    }


@router.get("/gates/trust", response=TrustOut, auth=api_perm("gates.enter"))
def trust(request):
    """Public keys and revoked pass ids, for checking passes at the gate without the server."""
    return passcheck.trust()


@router.post("/gates/check", response=GateCheckOut, auth=api_perm("gates.enter"))
def check(request, payload: GateCheckIn):
    """The server's check of a pass code (signature, expiry, revocation, colour; with `place`,
    the checkpoint of the gate: a visitor pass of another compound is refused there)."""
    place = None
    if payload.place is not None:  # one of the guard's checkpoints, else 404 (an id too large for the database too)
        place = get_in_scope(actions.guard_places(request.user), request.user, "gates.enter",
                             pk=payload.place if 0 < payload.place < 2**63 else 0)
    memo: dict = {}  # the pass read once for its colour and its host place
    claims, code = actions.check_token(payload.token, colour_now=True, memo=memo)
    if not code and place is not None and not passcheck.admits_at(claims, place, memo=memo):
        code = "wrong_place"
    if not code and claims.colour in actions.REFUSED_COLOURS:
        code = claims.colour
    shut = actions.closure_of(place.pk) if place is not None else None
    if shut is not None:  # a sealed entrance refuses every pass, with the reason
        code = shut.code
    return {"ok": not code, "reason_code": code,
            "reason": shut.text if shut is not None else actions.reason_text(code) if code else "",
            "kind": claims.kind if claims else "", "colour": claims.colour if claims else "",
            "masked": claims.masked if claims else "", "expires": claims.expires if claims else None}


@router.post("/gates/entries", response={200: GateEntryOut, 201: GateEntryOut}, auth=api_perm("gates.enter"))
def create_entry(request, payload: dict[str, Any] = Body(...)):
    """One gate check-in: verify the pass, decide, store the row. A resend (same client_id)
    returns the stored entry with 200."""
    entry, created = actions.record_entry(acting_user=request.user, data=payload)
    return Status(201 if created else 200, entry_out(entry, created))


@router.post("/gates/entries/batch", response=BatchOut, auth=api_perm("gates.enter"))
def create_batch(request, payload: BatchIn):
    """A device's queue: the good entries are stored, the bad ones reported by client_id."""
    return actions.record_batch(acting_user=request.user, items=payload.entries)


@router.get("/gates/stats", response=GateStatsOut, auth=api_perm("gates.view"))
def stats(request, day: dt.date | None = None, place: int | None = None):
    """People and vehicles in/out, refusals, flagged entries and fevers per checkpoint for one day."""
    from django.utils import timezone

    day = day or timezone.localdate()
    if not dt.date(2000, 1, 1) <= day <= dt.date(2100, 1, 1):
        raise Invalid({"day": "day must lie between 2000 and 2100"})
    where = get_in_scope(places_in_scope(request.user, "gates.view"), request.user, "gates.view", pk=place) if place else None
    return {"day": day, "rows": queries.stats(request.user, day, where)}
