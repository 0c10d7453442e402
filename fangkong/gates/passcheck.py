"""What the gate asks of the passes module: is this pass code good at this moment (passes'
check_token: signature, expiry, revocation), the pass's colour now, and the trust material
a gate device caches (public keys, revoked pass ids) to decide offline."""
from __future__ import annotations

import dataclasses

from fangkong.lib.db import fastsql
from fangkong.passes import actions as passes
from fangkong.passes import tokens
from fangkong.passes.colours import pass_colour
from fangkong.passes.models import Pass


def check(token: str, *, at: float | None = None) -> tokens.Claims:
    """Claims of a valid, unexpired (at `at`, Unix seconds), unrevoked pass; else TokenError."""
    return passes.check_token(token, now=at)


def with_colour_now(claims: tokens.Claims) -> tokens.Claims:
    """The claims with the pass's colour now (a printed card carries the colour of the day
    it was printed; a health change since then counts online)."""
    pass_ = fastsql.get(Pass, ("person",), id=claims.pass_id)
    if pass_ is None:
        return claims
    colour = pass_colour(pass_)
    return claims if colour == claims.colour else dataclasses.replace(claims, colour=colour)


def admits_at(claims: tokens.Claims, place) -> bool:
    """Whether the pass admits at the gate of `place`. A visitor's temporary pass (临时通行证)
    admits only within its place, the host compound (or checkpoint) it was issued for: at
    that compound's gates and its checkpoints, at no other compound's. The pass's stored
    place decides (codes signed before the place went into the code are covered too); the
    gate page checks the code's `h` claim against the same rule offline. Other passes are
    not bound to a gate."""
    if claims.kind != "visitor":
        return True
    host = fastsql.get(Pass, ("place_path",), id=claims.pass_id)  # one prepared read: asked at every check-in
    if host is not None:
        return place.path.startswith(host.place_path)
    # No such pass here (a code signed elsewhere with a trusted key): its `h` claim, if any.
    return claims.host is None or claims.host in {int(seg, 36) for seg in place.path.strip("/").split("/") if seg}


def trust() -> dict:
    ids, as_of = passes.revoked_ids()
    return {"keys": tokens.public_keys(), "revoked": sorted(ids), "as_of": as_of.isoformat()}
