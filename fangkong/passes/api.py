"""JSON API of passes: what a gate needs (trusted public keys, the revocation list, an
online check for a guard without offline support) and the staff's operations. A guard's
answers carry the colour and the masked name only — never an ID or a phone number."""
from __future__ import annotations

import datetime as dt

from ninja import Router, Schema, Status
from ninja.errors import HttpError

from fangkong.audit.actions import record
from fangkong.places.access import api_perm, get_in_scope, scope
from fangkong.residents.api import FieldErrors

from . import actions, tokens
from .colours import pass_colour
from .models import Override, Pass

router = Router(tags=["passes"])


class KeysOut(Schema):
    keys: dict[str, str]


class RevokedOut(Schema):
    revoked: list[int]
    as_of: dt.datetime


class CheckIn(Schema):
    token: str = ""


class CheckOut(Schema):
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


@router.post("/passes/check", response=CheckOut, summary="Check a pass code online (colour and masked name only)",
             auth=api_perm("passes.verify"))
def check(request, payload: CheckIn):
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
