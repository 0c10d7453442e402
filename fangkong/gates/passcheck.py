"""What the gate asks of the passes module: is this pass code good at this moment, and the
trust material a gate device caches (public keys, revoked pass ids) to decide offline."""
from __future__ import annotations

from django.utils import timezone

from fangkong.passes import tokens


def _passes_actions():
    try:
        from fangkong.passes import actions
    except ImportError:  # the passes module without its actions (before the passes branch lands)
        return None
    return actions if hasattr(actions, "check_token") else None


def check(token: str, *, at: float | None = None) -> tokens.Claims:
    """Claims of a valid, unexpired (at `at`, Unix seconds), unrevoked pass; else TokenError."""
    actions = _passes_actions()
    if actions is not None:
        return actions.check_token(token, now=at)
    return tokens.verify(token, now=at)


def revoked_ids() -> list[int]:
    actions = _passes_actions()
    fn = getattr(actions, "revoked_pass_ids", None) if actions is not None else None
    return sorted(fn()) if fn is not None else []


def trust() -> dict:
    return {"keys": tokens.public_keys(), "revoked": revoked_ids(), "as_of": timezone.now().isoformat()}
