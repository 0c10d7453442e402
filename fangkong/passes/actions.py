"""Pass writes as named actions, and the token check gates rely on.

TRANSITIONS is the state machine of a pass (active → revoked / expired; renew keeps it
active), OVERRIDE_TRANSITIONS that of a colour override (requested → approved / rejected;
approved → expired). An action outside its source states raises Conflict (HTTP 409) and
changes nothing; each transition locks the row and updates it conditionally on (state,
version), so of two concurrent calls exactly one wins.
"""
from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib.workflow import Conflict, Invalid, Transition, apply_transition, int_or_none  # noqa: F401  (actions.Conflict etc. for callers)
from fangkong.lib import registry
from fangkong.lib import crypto
from fangkong.lib.identity import IdentityError, mask_phone, normalize_phone

from . import tokens
from .colours import pass_colour
from .models import Override, Pass, mask_name
from .plates import normalize_plate

S = Pass.State
OS = Override.State
TokenError = tokens.TokenError
VISITOR_MAX_HOURS = 72
MAX_DAYS = 366




TRANSITIONS: dict[str, Transition] = {
    "renew": Transition("passes.issue", (S.ACTIVE, S.EXPIRED), S.ACTIVE, gettext_lazy("Renew")),
    "revoke": Transition("passes.issue", (S.ACTIVE,), S.REVOKED, gettext_lazy("Revoke")),
    "expire": Transition("passes.issue", (S.ACTIVE,), S.EXPIRED, gettext_lazy("Expire")),
}

OVERRIDE_TRANSITIONS: dict[str, Transition] = {
    "approve": Transition("passes.approve_override", (OS.REQUESTED,), OS.APPROVED, gettext_lazy("Approve")),
    "reject": Transition("passes.approve_override", (OS.REQUESTED,), OS.REJECTED, gettext_lazy("Reject")),
    "expire": Transition("passes.approve_override", (OS.APPROVED, OS.REQUESTED), OS.EXPIRED, gettext_lazy("Expire")),
}


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


# --- The check gates rely on ------------------------------------------------------------

_revoked: dict = {"at": float("-inf"), "ids": frozenset(), "as_of": None}


def clear_revocation_cache() -> None:
    _revoked.update(at=float("-inf"), ids=frozenset(), as_of=None)


def revoked_ids() -> tuple[frozenset[int], dt.datetime]:
    """Ids of revoked passes whose validity has not ended (older ones need no listing:
    every token of theirs has expired), and when the list was read. Cached in the process
    for PASSES_REVOCATION_CACHE_SECONDS; a revocation in this process clears it at once."""
    ttl = settings.PASSES_REVOCATION_CACHE_SECONDS
    if time.monotonic() - _revoked["at"] > ttl or _revoked["as_of"] is None:
        as_of = timezone.now()
        ids = frozenset(Pass.objects.filter(state=S.REVOKED, valid_until__gt=as_of).values_list("pk", flat=True))
        _revoked.update(at=time.monotonic(), ids=ids, as_of=as_of)
    return _revoked["ids"], _revoked["as_of"]


def check_token(token: str, *, now=None) -> tokens.Claims:
    """tokens.verify (format, trusted key, signature, expiry) + the pass is not revoked.
    A token never outlives its pass (signing clamps its expiry to the pass's validity), so
    the token's expiry is the pass's validity too. Raises TokenError(code): malformed,
    unknown_key, bad_signature, expired, revoked. `now`: a datetime or Unix seconds."""
    if now is None:
        now = timezone.now()  # the platform's clock (tests move it), not the process's
    if isinstance(now, dt.datetime):
        now = now.timestamp()
    claims = tokens.verify(token, now=now)
    if claims.pass_id in revoked_ids()[0]:
        raise TokenError("revoked")
    return claims


def token_for(pass_: Pass, *, minutes: int | None = None, now: dt.datetime | None = None) -> str:
    """A signed token of an active pass with its colour now, expiring after `minutes`
    (None: at the end of the pass's validity, for the printed card), never after it."""
    now = now or timezone.now()
    if pass_.state != S.ACTIVE or pass_.valid_until <= now:
        raise Conflict(_("This pass is not valid: no code can be issued"))
    expires = pass_.valid_until if minutes is None else min(pass_.valid_until, now + dt.timedelta(minutes=minutes))
    return tokens.sign(pass_id=pass_.pk, kind=pass_.kind, colour=pass_colour(pass_, now=now), masked=pass_.masked,
                       expires_at=expires, host=pass_.place_id if pass_.kind == Pass.Kind.VISITOR else None)


# --- Issue ------------------------------------------------------------------------------

def _issuer(place) -> str:
    from fangkong.documents.notices import committee_name

    return str(committee_name(place))[:100]


def _finish(pass_: Pass, acting_user, detail: dict) -> Pass:
    Pass.objects.filter(pk=pass_.pk).update(serial=f"TX{timezone.localdate():%Y%m%d}{pass_.pk:06d}")
    pass_.refresh_from_db()
    record(acting_user, f"passes.issue.{pass_.kind}", obj=pass_, detail={"serial": pass_.serial, **detail})
    return pass_


def _days(days) -> int:
    days = settings.PASSES_VALID_DAYS if days is None else days
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise Invalid({"days": _("The validity is 1 to %(max)d days") % {"max": MAX_DAYS}})
    return days


def issue_resident_pass(*, acting_user, person, days: int | None = None) -> tuple[Pass, str]:
    """The health pass (健康通行卡) of a registered resident, valid `days` from now; the
    token returned is the card's (valid as long as the pass). One active pass per person."""
    days = _days(days)
    now = timezone.now()
    try:
        with transaction.atomic():
            pass_ = Pass.objects.create(kind=Pass.Kind.RESIDENT, person=person, place=person.place,
                                        place_path=person.place_path, valid_from=now,
                                        valid_until=now + dt.timedelta(days=days), issued_by=_user(acting_user),
                                        issuer_name=_issuer(person.place))
            pass_ = _finish(pass_, acting_user, {"days": days})
    except IntegrityError:
        raise Conflict(_("This person already has a valid pass: renew it instead")) from None
    return pass_, token_for(pass_)


def issue_visitor_pass(*, acting_user, name, phone, reason, host_household, hours, place) -> tuple[Pass, str]:
    """A temporary pass (临时通行证) for a visitor of `host_household` (which must lie in
    `place`, the compound or checkpoint where it is valid), for 1–72 hours. The phone is
    stored encrypted with a blind index, shown masked. Raises Invalid({field: message})."""
    errors: dict = {}
    name = str(name or "").strip()
    if not name or len(name) > 50:
        errors["name"] = _("Enter the visitor's name (at most 50 characters)")
    try:
        phone = normalize_phone(phone)
    except IdentityError as exc:
        errors["phone"] = str(exc.message)
    reason = str(reason or "").strip()
    if not reason or len(reason) > 200:
        errors["reason"] = _("Give the reason of the visit (at most 200 characters)")
    if isinstance(hours, str):
        hours = int_or_none(hours, maximum=100_000)
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= VISITOR_MAX_HOURS:
        errors["hours"] = _("A visitor's pass lasts 1 to %(max)d hours") % {"max": VISITOR_MAX_HOURS}
    if place is None:
        errors["place"] = _("Choose where the pass is valid")
    elif host_household is not None and not host_household.place_path.startswith(place.path):
        errors["host_household"] = _("The host household does not live in this place")
    if errors:
        raise Invalid(errors)
    now = timezone.now()
    with transaction.atomic():
        pass_ = Pass.objects.create(
            kind=Pass.Kind.VISITOR, visitor_name=name, visitor_phone_enc=crypto.encrypt(phone),
            visitor_phone_bidx=crypto.blind_index("phone", phone), visitor_phone_masked=mask_phone(phone), reason=reason,
            host_household=host_household, place=place, place_path=place.path, valid_from=now,
            valid_until=now + dt.timedelta(hours=hours), issued_by=_user(acting_user), issuer_name=_issuer(place))
        pass_ = _finish(pass_, acting_user, {"hours": hours, "host": host_household.pk if host_household else None})
    return pass_, token_for(pass_)


def issue_vehicle_pass(*, acting_user, plate, place, owner=None, days: int | None = None) -> tuple[Pass, str]:
    """A vehicle pass for a normalized plate at `place` (a compound), optionally tied to a
    registered owner (whose colour it then carries). One active pass per plate."""
    errors: dict = {}
    try:
        plate = normalize_plate(plate)
    except ValueError as exc:
        errors["plate"] = _(str(exc))
    if place is None:
        errors["place"] = _("Choose where the pass is valid")
    try:
        days = _days(days)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    now = timezone.now()
    try:
        with transaction.atomic():
            pass_ = Pass.objects.create(kind=Pass.Kind.VEHICLE, plate=plate, person=owner, place=place,
                                        place_path=place.path, valid_from=now, valid_until=now + dt.timedelta(days=days),
                                        issued_by=_user(acting_user), issuer_name=_issuer(place))
            pass_ = _finish(pass_, acting_user, {"days": days, "owner": owner.pk if owner else None})
    except IntegrityError:
        raise Conflict(_("This vehicle already has a valid pass: renew it instead")) from None
    return pass_, token_for(pass_)


# --- Transitions ------------------------------------------------------------------------

def _transition(acting_user, pass_: Pass, action: str, changes: dict, note: str = "") -> Pass:
    t = TRANSITIONS[action]
    with transaction.atomic():
        def check(current):
            if action == "expire" and current.valid_until > timezone.now():
                raise Conflict(_("The pass was renewed a moment ago"))  # checked again under the lock

        current = apply_transition(Pass.objects, pass_, t, changes=changes, check=check, lower=True,
                                   refused=gettext_lazy("Cannot %(action)s: the pass is %(state)s"),
                                   changed=gettext_lazy("The pass was changed by someone else; reload it"))
        record(acting_user, f"passes.{action}", obj=current, detail={"state": current.state, "note": note[:200]})
    return current


def renew(*, acting_user, pass_: Pass, days: int | None = None, hours: int | None = None) -> Pass:
    """Extend an active (or expired) pass from now by `days` (visitors: `hours`, 1–72)."""
    now = timezone.now()
    if pass_.kind == Pass.Kind.VISITOR:
        if not isinstance(hours, int) or not 1 <= hours <= VISITOR_MAX_HOURS:
            raise Invalid({"hours": _("A visitor's pass lasts 1 to %(max)d hours") % {"max": VISITOR_MAX_HOURS}})
        until = now + dt.timedelta(hours=hours)
    else:
        until = now + dt.timedelta(days=_days(days))
    try:
        with transaction.atomic():
            return _transition(acting_user, pass_, "renew", {"valid_until": until}, note=until.isoformat())
    except IntegrityError:  # an expired pass renewed while the person got another one
        raise Conflict(_("This person already has a valid pass: renew it instead")) from None


def revoke(*, acting_user, pass_: Pass, reason: str) -> Pass:
    """Withdraw a pass: every token of it is refused from now on (gates learn it from
    GET /api/passes/revoked)."""
    reason = str(reason or "").strip()
    if not reason or len(reason) > 200:
        raise Invalid({"reason": _("Give the reason for revoking (at most 200 characters)")})
    out = _transition(acting_user, pass_, "revoke", {"revoke_reason": reason, "revoked_at": timezone.now(),
                                                     "revoked_by": _user(acting_user)}, note=reason)
    transaction.on_commit(clear_revocation_cache)
    clear_revocation_cache()
    return out


def expire_passes(now: dt.datetime | None = None) -> int:
    """Mark active passes past their validity as expired (run by the worker); idempotent."""
    now = now or timezone.now()
    n = 0
    for pass_ in Pass.objects.filter(state=S.ACTIVE, valid_until__lte=now).only("pk")[:5000]:
        try:
            _transition(None, pass_, "expire", {})
            n += 1
        except Conflict:
            pass
    n_over = expire_overrides(now)
    return n + n_over


# --- Colour overrides ------------------------------------------------------------------

def request_override(*, acting_user, colour: str, reason: str, hours, person=None, pass_: Pass | None = None) -> Override:
    """Ask for a colour set by hand for a person (or a pass) for `hours` (≤ the setting);
    it counts only once another person approved it. Many requests by one person or in one
    community within a short time raise an alert (passes.override_burst)."""
    errors: dict = {}
    if colour not in Override.Colour.values:
        errors["colour"] = _("Choose green, yellow or red")
    reason = str(reason or "").strip()
    if not reason or len(reason) > 200:
        errors["reason"] = _("Give the reason for the override (at most 200 characters)")
    if isinstance(hours, str):
        hours = int_or_none(hours, maximum=100_000)
    max_hours = settings.PASSES_OVERRIDE_MAX_HOURS
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= max_hours:
        errors["hours"] = _("An override lasts 1 to %(max)d hours") % {"max": max_hours}
    if (person is None) == (pass_ is None):
        errors["person"] = _("Choose the person or the pass")
    if errors:
        raise Invalid(errors)
    place_path = person.place_path if person is not None else pass_.place_path
    with transaction.atomic():
        over = Override.objects.create(person=person, pass_obj=pass_, colour=colour, reason=reason, hours=hours,
                                       place_path=place_path, requested_by=acting_user)
        record(acting_user, "passes.override.request", obj=over, detail={"colour": colour, "hours": hours})
        _burst_check(acting_user, over)
    return over


def _burst_check(acting_user, over: Override) -> None:
    since = timezone.now() - dt.timedelta(minutes=settings.PASSES_OVERRIDE_BURST_MINUTES)
    limit = settings.PASSES_OVERRIDE_BURST
    recent = Override.objects.filter(requested_at__gte=since)
    community = _community_of(over.place_path)
    by_user = recent.filter(requested_by=acting_user).count()
    in_place = recent.filter(place_path__under=community).count()
    hit = []
    if by_user == limit:
        hit.append(_("%(n)d colour overrides requested by %(user)s within %(m)d minutes") % {
            "n": by_user, "user": acting_user.get_username(), "m": settings.PASSES_OVERRIDE_BURST_MINUTES})
    if in_place == limit:
        hit.append(_("%(n)d colour overrides requested in one community within %(m)d minutes") % {
            "n": in_place, "m": settings.PASSES_OVERRIDE_BURST_MINUTES})
    for text in hit:
        alert = registry.Alert(kind="passes.override_burst", place_path=community, text=text,
                               perms=("passes.approve_override",), obj_type="passes.override", obj_id=over.pk)
        transaction.on_commit(lambda a=alert: registry.raise_alert(a))
        record(acting_user, "passes.override.burst", obj=over, outcome="alert", detail={"text": text})


def _community_of(path: str) -> str:
    """The path of the community containing `path` (or `path` itself outside any)."""
    from fangkong.places.models import Place

    prefixes = []
    parts = [p for p in path.split("/") if p]
    for i in range(1, len(parts) + 1):
        prefixes.append("/".join(parts[:i]) + "/")
    lead = "/" if path.startswith("/") else ""
    candidates = [lead + p for p in prefixes]
    community = Place.objects.filter(path__in=candidates, kind="community").values_list("path", flat=True).first()
    return community or path


def decide_override(*, acting_user, override: Override, approve: bool, note: str = "") -> Override:
    """Approve (from now for its hours) or reject a requested override; never by the
    person who requested it."""
    action = "approve" if approve else "reject"
    t = OVERRIDE_TRANSITIONS[action]
    now = timezone.now()
    if override.requested_by_id == getattr(acting_user, "pk", None):  # who requested it never changes
        raise Conflict(_("An override needs a second person: you requested it yourself"))
    with transaction.atomic():
        current = apply_transition(
            Override.objects, override, t, lower=True,
            changes={"decided_by": acting_user, "decided_at": now, "decision_note": str(note or "")[:200]},
            check=lambda current: {"until": now + dt.timedelta(hours=current.hours)} if approve else None,
            refused=gettext_lazy("Cannot %(action)s: the override is %(state)s"),
            changed=gettext_lazy("The override was changed by someone else; reload it"))
        record(acting_user, f"passes.override.{action}", obj=current, detail={"colour": current.colour})
    return current


def expire_overrides(now: dt.datetime | None = None) -> int:
    """Approved overrides past their time, and requests never decided within the longest
    override time, become expired (run by the worker)."""
    now = now or timezone.now()
    stale = now - dt.timedelta(hours=settings.PASSES_OVERRIDE_MAX_HOURS)
    qs = Override.objects.filter(Q(state=OS.APPROVED, until__lte=now) | Q(state=OS.REQUESTED, requested_at__lte=stale))
    n = 0
    for over in qs.only("pk", "state", "version")[:5000]:
        if Override.objects.filter(pk=over.pk, state=over.state, version=over.version).update(
                state=OS.EXPIRED, version=F("version") + 1):
            record(None, "passes.override.expire", obj=over)
            n += 1
    return n


__all__ = ["Conflict", "Invalid", "TokenError", "TRANSITIONS", "OVERRIDE_TRANSITIONS", "check_token", "revoked_ids",
           "token_for", "issue_resident_pass", "issue_visitor_pass", "issue_vehicle_pass", "renew", "revoke",
           "expire_passes", "request_override", "decide_override", "expire_overrides", "mask_name"]
