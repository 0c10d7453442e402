"""Audit events. `record` is called by every action; request metadata (IP) comes from the
AuditContextMiddleware through a context variable, so actions need no request object."""
from __future__ import annotations

import contextvars

from fangkong.lib.identity import mask_numbers

from fangkong.lib.db import fastsql

from .models import AuditEvent

_context: contextvars.ContextVar[dict] = contextvars.ContextVar("fangkong_audit_context", default={})

# Defence in depth: anything in `detail` that looks like an ID or a phone number is masked.


# The roles of the acting user, as the access module tells them (registered by the places
# app: audit sits below it and imports none of the apps).
_roles_of = [lambda user: []]


def set_roles_resolver(fn) -> None:
    _roles_of[0] = fn


def set_context(**values):
    return _context.set(values)


def reset_context(token):
    _context.reset(token)


def _scrub(value):
    if isinstance(value, str):
        return mask_numbers(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def record(user, action: str, *, obj=None, outcome: str = "ok", detail: dict | None = None, place_path: str = "") -> AuditEvent:
    ctx = _context.get()
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    if obj is not None and not place_path:
        field = getattr(type(obj), "SCOPE_PATH", None)
        place_path = getattr(obj, field, "") if field else ""
    event = AuditEvent(
        user=user if authenticated else None,
        username=(user.get_username() if authenticated else (ctx.get("username") or "")),
        roles=",".join(_roles_of[0](user)) if authenticated else "",
        ip=ctx.get("ip", ""),
        action=action,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        outcome=outcome,
        detail=_scrub(detail or {}),
        place_path=place_path or "",
    )
    fastsql.insert(event)  # every action writes one: the prepared INSERT, not the ORM's per-call compile
    return event
