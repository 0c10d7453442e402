"""Audit events. `record` is called by every action; request metadata (IP) comes from the
AuditContextMiddleware through a context variable, so actions need no request object."""
from __future__ import annotations

import contextvars
import time

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


def add_context(**values) -> None:
    """More of the current request's context (the middleware adds the route's pattern)."""
    ctx = _context.get(None)
    if ctx is not None:
        ctx.update(values)


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
    return prepare(user, action, obj=obj, outcome=outcome, detail=detail, place_path=place_path).run()


def prepare(user, action: str, *, obj=None, object_type: str = "", outcome: str = "ok", detail: dict | None = None,
            place_path: str = "") -> fastsql.Prepared:
    """The event record() would write, not written yet: `.run()` writes it (where an action
    hands its writes to the group commit's writer, the event is made before: the acting
    user's roles, the scrubbed detail). An object not stored yet is named by `object_type`;
    its id is set when it is known: `.set("object_id", str(pk))`."""
    ctx = _context.get()
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    if obj is not None and not place_path:
        field = getattr(type(obj), "SCOPE_PATH", None)
        place_path = getattr(obj, field, "") if field else ""
    event = AuditEvent(
        user=user if authenticated else None,
        username="" if authenticated else (ctx.get("username") or ""),  # names are looked up, not copied
        roles=",".join(_roles_of[0](user)) if authenticated else "",
        ip=ctx.get("ip", ""),
        action=action,
        object_type=type(obj).__name__ if obj is not None else object_type,
        object_id=str(obj.pk) if obj is not None else "",
        outcome=outcome,
        detail=_scrub(detail or {}),
        place_path=place_path or "",
    )
    # Every action writes one: the prepared INSERT, not the ORM's per-call compile.
    return fastsql.Prepared(event)


# --- Refusals -------------------------------------------------------------------------------
# The access module tells of every refusal (403, a 404 out of scope or for a missing object);
# the places app registers note_refusal for it. During a request the refusals are kept in
# the audit context and written by the middleware after the response (flush_refusals), so
# that the transaction the refusal aborts does not take its record with it. At most one
# event per account, route and kind a minute (the cache); every refusal counts towards the
# alert: DENIED_ALERT_COUNT within DENIED_ALERT_MINUTES by one account raise one alert per
# window. No personal data: the account's id and roles, the route's pattern, the permission.


def note_refusal(user, perm: str, kind: str, *, place_path: str = "") -> None:
    if user is None or not getattr(user, "is_authenticated", False):
        return
    ctx = _context.get()
    pending = ctx.get("refusals")
    if pending is not None:
        pending.append((user, perm, kind, place_path))
    else:
        _write_refusal(user, perm, kind, place_path, ctx.get("route", ""))


def flush_refusals() -> None:
    ctx = _context.get()
    pending = ctx.get("refusals")
    if not pending:
        return
    route = ctx.get("route", "")
    items, pending[:] = list(pending), []
    for user, perm, kind, place_path in items:
        try:
            _write_refusal(user, perm, kind, place_path, route)
        except Exception:  # the refusal's answer stands even if its record fails
            import logging

            logging.getLogger(__name__).exception("refusal not recorded")


def _write_refusal(user, perm: str, kind: str, place_path: str, route: str) -> None:
    from django.conf import settings
    from django.core.cache import cache

    from fangkong.lib import registry

    now = time.time()
    window = settings.DENIED_ALERT_MINUTES * 60
    if cache.add(f"fk:refused:{user.pk}:{kind}:{route}:{perm}", 1, 60):
        # At the account's place, so the commanders over it see it in their audit log.
        record(user, f"access.{kind}", outcome="denied", detail={"perm": perm, "route": route}, place_path=place_path)
    key = f"fk:refusals:{user.pk}"
    times = [t for t in (cache.get(key) or []) if t > now - window]
    times.append(now)
    cache.set(key, times[-settings.DENIED_ALERT_COUNT:], window)
    if len(times) >= settings.DENIED_ALERT_COUNT and cache.add(f"fk:refusals-alert:{user.pk}", 1, window):
        detail = {"count": len(times), "minutes": settings.DENIED_ALERT_MINUTES}
        event = record(user, "access.alert", outcome="alert", detail=detail, place_path=place_path)
        from django.utils.translation import gettext

        registry.raise_alert(registry.Alert(
            kind="access.denied", place_path=place_path, perms=("audit.view",), obj_type="audit.auditevent",
            obj_id=event.pk, text=gettext("Account #%(id)s was refused %(count)s times within %(minutes)s minutes.")
            % {"id": user.pk, **detail}))
