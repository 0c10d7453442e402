"""JSON API of passes: what a gate needs (trusted public keys, the revocation list, an
online check for a guard without offline support) and the staff's operations. A guard's
answers carry the colour and the masked name only — never an ID or a phone number."""
from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from fangkong.lib.apitypes import Offset
from fangkong.audit.actions import record
from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm, get_in_scope, scope
from fangkong.residents.queries import find_person

from . import actions, tokens
from .colours import pass_colour
from .models import Override, Pass

router = Router(tags=["passes"])


class KeysOut(Schema):
    keys: dict[str, str]


class RevokedOut(Schema):
    revoked: list[int]
    as_of: dt.datetime


class PassCheckIn(Schema):
    token: str = ""


class PassCheckOut(Schema):
    ok: bool
    code: str
    message: str
    pass_id: int | None = None
    kind: str | None = None
    colour: str | None = None
    masked: str | None = None
    expires_at: dt.datetime | None = None


@router.get("/passes/keys", response=KeysOut, summary="Trusted public keys of pass tokens (kid → raw Ed25519 key, base64url)",
            auth=api_perm("passes.verify"))
def keys(request):
    return {"keys": tokens.public_keys()}


@router.get("/passes/revoked", response=RevokedOut, summary="Ids of revoked passes whose validity has not ended",
            auth=api_perm("passes.verify"))
def revoked(request):
    ids, as_of = actions.revoked_ids()
    return {"revoked": sorted(ids), "as_of": as_of}


@router.post("/passes/check", response=PassCheckOut, summary="Check a pass code online (colour and masked name only)",
             auth=api_perm("passes.verify"))
def check(request, payload: PassCheckIn):
    """ok=false with a stable code (malformed, unknown_key, bad_signature, expired,
    revoked) and a message when refused. For a resident or vehicle pass the colour is
    the one now (a printed card's code carries the colour of the day it was printed)."""
    try:
        claims = actions.check_token(payload.token)
    except tokens.TokenError as exc:
        record(request.user, "passes.check", outcome="refused", detail={"code": exc.code})
        return {"ok": False, "code": exc.code, "message": exc.message}
    colour = claims.colour
    pass_ = Pass.objects.filter(pk=claims.pass_id).first()
    if pass_ is not None:
        colour = pass_colour(pass_)
    record(request.user, "passes.check", detail={"pass": claims.pass_id, "colour": colour})
    return {"ok": True, "code": "ok", "message": "", "pass_id": claims.pass_id, "kind": claims.kind, "colour": colour,
            "masked": claims.masked, "expires_at": claims.expires_at}


# --- Staff operations -------------------------------------------------------------------

class PassOut(Schema):
    id: int
    serial: str | None
    kind: str
    state: str
    masked: str
    place_id: int
    valid_from: dt.datetime
    valid_until: dt.datetime
    revoke_reason: str


class IssuedOut(Schema):
    passes: PassOut
    token: str


class ResidentIn(Schema):
    id_number: str = ""
    days: int | None = None


class VisitorIn(Schema):
    name: str = ""
    phone: str = ""
    reason: str = ""
    place_id: int = 0
    host_household_id: int | None = None
    hours: int | None = None


class VehicleIn(Schema):
    plate: str = ""
    place_id: int = 0
    owner_id_number: str = ""
    days: int | None = None


class RenewIn(Schema):
    days: int | None = None
    hours: int | None = None


class PassRevokeIn(Schema):
    reason: str = ""


class OverrideIn(Schema):
    colour: str = ""
    hours: int | None = None
    reason: str = ""


class OverrideOut(Schema):
    id: int
    colour: str
    state: str
    hours: int
    until: dt.datetime | None
    reason: str


class OverrideDecideIn(Schema):
    note: str = ""


def _place(user, place_id: int):
    from fangkong.places.models import Place

    # A reference in the body (not the URL): missing and out of scope give the same 422.
    place = scope(Place.objects.filter(pk=place_id or 0), user, "passes.issue").first()
    if place is None:
        raise Invalid({"place_id": _("Choose where the pass is valid")})
    return place


@router.get("/passes", response=list[PassOut], summary="Passes in scope", auth=api_perm("passes.view"))
def list_passes(request, state: str = "active", kind: str = "", limit: int = 100, offset: Offset = 0):
    qs = scope(Pass.objects.select_related("person"), request.user, "passes.view")
    if state in Pass.State.values:
        qs = qs.filter(state=state)
    if kind in Pass.Kind.values:
        qs = qs.filter(kind=kind)
    limit = min(max(limit, 1), 500)
    record(request.user, "passes.list", detail={"state": state, "api": True})
    return list(qs[max(offset, 0): max(offset, 0) + limit])


def _issued(pair):
    pass_, token = pair
    return Status(201, {"passes": pass_, "token": token})


@router.post("/passes/resident", response={201: IssuedOut}, summary="Issue a resident's health pass (person by ID number in scope)",
             auth=api_perm("passes.issue"))
def issue_resident(request, payload: ResidentIn):
    person = find_person(request.user, "passes.issue", payload.id_number)
    return _issued(actions.issue_resident_pass(acting_user=request.user, person=person, days=payload.days))


@router.post("/passes/visitor", response={201: IssuedOut}, summary="Issue a visitor's temporary pass (1–72 hours)",
             auth=api_perm("passes.issue"))
def issue_visitor(request, payload: VisitorIn):
    from fangkong.residents.models import Household

    place = _place(request.user, payload.place_id)
    host = None
    if payload.host_household_id:
        host = scope(Household.objects.filter(pk=payload.host_household_id), request.user, "passes.issue").first()
        if host is None:
            raise Invalid({"host_household_id": _("No household with this address is registered there")})
    return _issued(actions.issue_visitor_pass(
        acting_user=request.user, name=payload.name, phone=payload.phone, reason=payload.reason, host_household=host,
        hours=payload.hours, place=place))


@router.post("/passes/vehicle", response={201: IssuedOut}, summary="Issue a vehicle pass", auth=api_perm("passes.issue"))
def issue_vehicle(request, payload: VehicleIn):
    place = _place(request.user, payload.place_id)
    owner = find_person(request.user, "passes.issue", payload.owner_id_number, field="owner_id_number") if payload.owner_id_number.strip() else None
    return _issued(actions.issue_vehicle_pass(acting_user=request.user, plate=payload.plate, place=place,
                                              owner=owner, days=payload.days))


@router.post("/passes/{pk}/renew", response=PassOut, auth=api_perm("passes.issue", obj=Pass))
def renew(request, pk: int, payload: RenewIn):
    pass_ = get_in_scope(Pass.objects.all(), request.user, "passes.issue", pk=pk)
    return actions.renew(acting_user=request.user, pass_=pass_, days=payload.days, hours=payload.hours)


@router.post("/passes/{pk}/revoke", response=PassOut, auth=api_perm("passes.issue", obj=Pass))
def revoke(request, pk: int, payload: PassRevokeIn):
    pass_ = get_in_scope(Pass.objects.all(), request.user, "passes.issue", pk=pk)
    return actions.revoke(acting_user=request.user, pass_=pass_, reason=payload.reason)


@router.post("/passes/{pk}/overrides", response={201: OverrideOut}, summary="Request a colour override (a second person approves)",
             auth=api_perm("passes.override", obj=Pass))
def request_override(request, pk: int, payload: OverrideIn):
    pass_ = get_in_scope(Pass.objects.select_related("person"), request.user, "passes.override", pk=pk)
    subject = {"person": pass_.person} if pass_.kind == Pass.Kind.RESIDENT else {"pass_": pass_}
    return Status(201, actions.request_override(acting_user=request.user, colour=payload.colour,
                                                reason=payload.reason, hours=payload.hours, **subject))


@router.post("/passes/overrides/{pk}/approve", response=OverrideOut, auth=api_perm("passes.approve_override", obj=Override))
def approve_override(request, pk: int, payload: OverrideDecideIn):
    over = get_in_scope(Override.objects.all(), request.user, "passes.approve_override", pk=pk)
    return actions.decide_override(acting_user=request.user, override=over, approve=True, note=payload.note)


@router.post("/passes/overrides/{pk}/reject", response=OverrideOut, auth=api_perm("passes.approve_override", obj=Override))
def reject_override(request, pk: int, payload: OverrideDecideIn):
    over = get_in_scope(Override.objects.all(), request.user, "passes.approve_override", pk=pk)
    return actions.decide_override(acting_user=request.user, override=over, approve=False, note=payload.note)


# Last: a path with a bare {pk} must not shadow /passes/keys, /passes/visitor, ...
@router.get("/passes/{pk}", response=PassOut, auth=api_perm("passes.view", obj=Pass))
def get_pass(request, pk: int):
    pass_ = get_in_scope(Pass.objects.select_related("person"), request.user, "passes.view", pk=pk)
    record(request.user, "passes.view", obj=pass_, detail={"api": True})
    return pass_
