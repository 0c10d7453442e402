"""What the gate asks of the passes module: is this pass code good at this moment (passes'
check_token: signature, expiry, revocation), the pass's colour now, and the trust material
a gate device caches (public keys, revoked pass ids) to decide offline."""
from __future__ import annotations

import dataclasses

from fangkong.passes import actions as passes
from fangkong.passes import tokens
from fangkong.passes.colours import pass_colour, pass_now
from fangkong.passes.models import Pass


def check(token: str, *, at: float | None = None) -> tokens.Claims:
    """Claims of a valid, unexpired (at `at`, Unix seconds), unrevoked pass; else TokenError."""
    return passes.check_token(token, now=at)


def _stored(claims: tokens.Claims, memo: dict | None):
    """colours.pass_now of the claims' pass (None: not stored here), read once per memo (a
    request or a batch: the colour now and the host place come from the same read)."""
    if memo is None:
        return pass_now(claims.pass_id)
    key = ("pass_now", claims.pass_id)
    if key not in memo:
        memo[key] = pass_now(claims.pass_id)
    return memo[key]


def with_colour_now(claims: tokens.Claims, *, memo: dict | None = None) -> tokens.Claims:
    """The claims with the pass's colour now (a printed card carries the colour of the day
    it was printed; a health change since then counts online)."""
    stored = _stored(claims, memo)
    if stored is None:
        return claims
    person_id, _path, override = stored
    colour = pass_colour(Pass(id=claims.pass_id, person_id=person_id), override=override)
    return claims if colour == claims.colour else dataclasses.replace(claims, colour=colour)


def admits_at(claims: tokens.Claims, place, *, memo: dict | None = None) -> bool:
    """Whether the pass admits at the gate of `place`. A visitor's temporary pass (临时通行证)
    admits only within its place, the host compound (or checkpoint) it was issued for: at
    that compound's gates and its checkpoints, at no other compound's. The pass's stored
    place decides (codes signed before the place went into the code are covered too); the
    gate page checks the code's `h` claim against the same rule offline. Other passes are
    not bound to a gate."""
    if claims.kind != "visitor":
        return True
    stored = _stored(claims, memo)  # with_colour_now's read, when it ran for the same memo
    if stored is not None:
        return place.path.startswith(stored[1])
    # No such pass here (a code signed elsewhere with a trusted key): its `h` claim, if any.
    return claims.host is None or claims.host in {int(seg, 36) for seg in place.path.strip("/").split("/") if seg}


def trust() -> dict:
    ids, as_of = passes.revoked_ids()
    return {"keys": tokens.public_keys(), "revoked": sorted(ids), "as_of": as_of.isoformat()}
