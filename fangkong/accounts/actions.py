"""Account writes: sign-in with its limits, users and grants.

Sign-in limits (counters in the shared cache, fangkong/lib/throttle.py, so they hold across
processes and servers; a window opens at the first failure and lasts
LOGIN_LOCKOUT_SECONDS, 900 s):

1. Per client address: after LOGIN_ADDRESS_MAX_FAILURES (30) failed sign-ins from one
   address, every sign-in from it is refused until its window closes.
2. Per account: after LOGIN_MAX_FAILURES (5) failures on one user name (known or not, so the
   answer reveals nothing), the name is guarded, not locked: an attempt on it is refused
   only from an address that has itself failed on this name in the window. Anyone else,
   the account's owner at another address included, still has the password checked. So
   knowing somebody's user name is not enough to lock them out; an attacker gets at most
   one guess per address and window once the name is guarded (and rule 1 on each address).
3. Refusals (429 with Retry-After) come before the password is hashed, and at most
   LOGIN_HASH_CONCURRENCY hashes run at once per process (Argon2 takes the CPU for a
   tenth of a second): a sign-in that finds no free turn within LOGIN_HASH_WAIT_MS is
   answered 429 with Retry-After 1 (at once, by the middleware, when every turn and wait
   is taken), so a burst of sign-ins cannot starve everyone else; the hashes themselves
   run at the lowest CPU priority (accounts/hashers.py).
   A refusal, once read from the shared counters, is remembered by the process until its
   window closes (the counters only grow), and answered first of all by
   accounts.middleware.SignInGuardMiddleware: a flood of refused attempts costs little.

A successful sign-in clears the counter of its (name, address) pair only. Failures are
audited each; refusals once per (name, address) and window by each process.
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.audit.actions import record
from fangkong.lib import throttle
from fangkong.lib.crypto import blind_index, blind_indexes

from fangkong.places.models import Grant


class LockedOut(Exception):
    """Refused before the password was checked; `retry_after` in seconds."""

    def __init__(self, retry_after: int, busy: bool = False):
        super().__init__("locked")
        self.retry_after = retry_after
        self.busy = busy


HASH_SLOT = "password-hash"


def _signin_keys(request, username: str) -> tuple[str, str, str]:
    name = throttle.digest("login", username)
    addr = throttle.digest(throttle.client_address(request))
    return f"signin:addr:{addr}", f"signin:name:{name}", f"signin:pair:{name}:{addr}"


def _refusal(counts: dict, keys) -> int | None:
    addr, name, pair = keys
    if counts[addr][0] >= settings.LOGIN_ADDRESS_MAX_FAILURES:
        throttle.remember_refusal(addr, counts[addr][1])
        return counts[addr][1]
    if counts[name][0] >= settings.LOGIN_MAX_FAILURES and counts[pair][0] >= 1:
        throttle.remember_refusal(pair, counts[pair][1])
        return counts[pair][1]
    return None


def refusal(*, request, username: str) -> LockedOut | None:
    """Whether the limits of the module doc refuse a sign-in as `username` from this
    client now (one cache read; no password hashed). Audits the first refusal of a window
    (per process): a flood of refused attempts does not become a flood of writes."""
    username = (username or "").strip()[:150]
    keys = _signin_keys(request, username)
    wait = throttle.refused_here(keys[0], keys[2])  # a refusal of this window already read here
    if wait is None:
        wait = _refusal(throttle.counts(list(keys), settings.LOGIN_LOCKOUT_SECONDS), keys)
    if wait is None:
        return None
    if throttle.first_time(keys[2], wait):
        record(None, "auth.login", outcome="locked", detail={"username": username})
    return LockedOut(wait)


def sign_in(*, request, username: str, password: str):
    """Authenticate; returns the user or None. Raises LockedOut when the limits of the
    module doc refuse the attempt (also on the failure that reaches them)."""
    username = (username or "").strip()[:150]
    keys = _signin_keys(request, username)
    window = settings.LOGIN_LOCKOUT_SECONDS
    refused = refusal(request=request, username=username)
    if refused is not None:
        raise refused
    try:
        with throttle.slot(HASH_SLOT, settings.LOGIN_HASH_CONCURRENCY, settings.LOGIN_HASH_WAIT_MS / 1000):
            user = authenticate(request, username=username, password=password)
    except throttle.Busy:
        raise LockedOut(1, busy=True) from None
    if user is None:
        for key in keys:
            throttle.count(key, window)
        record(None, "auth.login", outcome="failed", detail={"username": username})
        wait = _refusal(throttle.counts(list(keys), window), keys)
        if wait is not None:
            raise LockedOut(wait)
        return None
    throttle.reset(keys[2])
    record(user, "auth.login")
    return user


@transaction.atomic
def create_user(*, acting_user, username: str, password: str, display_name: str = "", grants=()):
    User = get_user_model()
    user = User.objects.create_user(username=username, password=password, first_name=display_name[:150])
    for role, target in grants:
        add_grant(acting_user=acting_user, user=user, role=role, target=target)
    record(acting_user, "account.create", obj=user, detail={"username": username})
    return user


def _target_path(target) -> str:
    """The place path a grant's target stands at (an organization: its place)."""
    from fangkong.places.models import Organization

    return target.place_path if isinstance(target, Organization) else target.path


@transaction.atomic
def add_grant(*, acting_user, user, role: str, target=None, starts_on=None, ends_on=None) -> Grant:
    """Store a grant as it is asked (the operator's command and the cast call it; pages and
    the API go through grant_role, which checks delegation first). A grant outside its
    dates is stored inactive (tasks.apply_grant_dates keeps it so). The first grant of an
    account over a place gives it its staff profile there (who may manage it)."""
    from fangkong.lib.workflow import Invalid
    from fangkong.places.access import all_roles
    from fangkong.places.models import Organization, Place

    from .models import StaffProfile

    if role not in all_roles():  # roles are declared by the apps (permissions.py)
        raise Invalid({"role": _("Unknown role")})
    if starts_on and ends_on and ends_on < starts_on:
        raise Invalid({"ends_on": _("The end date is before the start date.")})
    place = target if isinstance(target, Place) else None
    org = target if isinstance(target, Organization) else None
    grant = Grant.objects.create(user=user, role=role, place=place, organization=org, starts_on=starts_on, ends_on=ends_on,
                                 active=_within(starts_on, ends_on))
    if target is not None and not StaffProfile.objects.filter(user=user).exists():
        StaffProfile.objects.create(user=user, home_place=place or org.place, home_path=_target_path(target),
                                    created_by=_actor(acting_user))
    record(acting_user, "grant.create", obj=grant, detail={"role": role, "target": str(target or "*"),
                                                            "from": str(starts_on or ""), "until": str(ends_on or "")})
    return grant


def _within(starts_on, ends_on, today=None) -> bool:
    today = today or timezone.localdate()
    return (starts_on is None or starts_on <= today) and (ends_on is None or today <= ends_on)


def _actor(acting_user):
    return acting_user if acting_user is not None and acting_user.is_authenticated else None


@transaction.atomic
def revoke_grant(*, acting_user, user, role: str, target=None) -> int:
    from fangkong.places.models import Organization, Place

    qs = Grant.objects.filter(user=user, role=role, revoked_at__isnull=True,
                              place=target if isinstance(target, Place) else None,
                              organization=target if isinstance(target, Organization) else None)
    n = qs.update(active=False, revoked_at=timezone.now())
    if n:
        record(acting_user, "grant.revoke", obj=user, detail={"role": role, "target": str(target or "*")})
    return n


# --- Delegation without escalation -------------------------------------------------------

def delegation_table() -> dict[str, tuple[str, ...]]:
    """Who may grant which role (inside its own grant's subtree): the table in code
    (permissions.DELEGATION) with the admin's overrides (DelegationRule) over it."""
    from fangkong.places.access import all_roles, membership_roles

    from .models import DelegationRule
    from .permissions import DELEGATION

    table = dict(DELEGATION)
    known = set(all_roles()) - {"admin"} - membership_roles()
    for rule in DelegationRule.objects.all():
        table[rule.granter_role] = tuple(r for r in rule.roles if r in known)
    return {k: v for k, v in table.items() if v}


def _is_admin(user) -> bool:
    from fangkong.places.access import grants

    return user is None or any(g.role == "admin" and g.everything for g in grants(user))


def may_grant(acting_user, role: str, path: str) -> bool:
    """Whether `acting_user` may grant `role` over the place at `path`: the admin anything;
    anyone else only a role its own role may delegate (delegation_table), at or under the
    place of that grant. Organization grants delegate nothing; nobody delegates admin."""
    from fangkong.places.access import grants

    if _is_admin(acting_user):
        return True
    if role == "admin" or not path:
        return False
    table = delegation_table()
    return any(role in table.get(g.role, ()) and g.place_path is not None and path.startswith(g.place_path)
               for g in grants(acting_user))


def delegating_paths(acting_user) -> list[str] | None:
    """The place paths under which `acting_user` may delegate some role (None: anywhere)."""
    if _is_admin(acting_user):
        return None
    table = delegation_table()
    return [g.place_path for g in _grants(acting_user) if table.get(g.role) and g.place_path is not None]


def may_create_at(acting_user, path: str) -> bool:
    """Whether `acting_user` may create accounts managed from the place at `path`: it may
    delegate some role there."""
    paths = delegating_paths(acting_user)
    return paths is None or any(path.startswith(p) for p in paths)


def _grants(user):
    from fangkong.places.access import grants

    return grants(user)


def may_manage(acting_user, user) -> bool:
    """Whether `acting_user` may act on the account `user` (links, deactivation): never on
    oneself (but the admin), and only on an account all of whose grants it could have given."""
    if _is_admin(acting_user):
        return True
    if user.pk == acting_user.pk:
        return False
    return all(g.role != "admin" and may_grant(acting_user, g.role, g.place.path if g.place_id else g.organization.place_path)
               for g in Grant.objects.filter(user=user, revoked_at__isnull=True).select_related("place", "organization"))


def _check_manage(acting_user, user) -> None:
    from django.core.exceptions import PermissionDenied

    if not may_manage(acting_user, user):
        raise PermissionDenied("accounts.manage")


@transaction.atomic
def grant_role(*, acting_user, user, role: str, target, starts_on=None, ends_on=None) -> Grant:
    """Grant `role` over `target` (a place or an organization) to `user`, if the acting user
    may delegate it there (PermissionDenied otherwise: nothing is stored). Granting oneself
    anything is refused but to the admin. A grant the user already holds is a Conflict."""
    from django.core.exceptions import PermissionDenied

    from fangkong.lib.workflow import Conflict, Invalid

    from fangkong.places.access import all_roles, membership_roles

    if role not in all_roles():
        raise Invalid({"role": _("Unknown role")})
    if role in membership_roles():
        raise Invalid({"role": _("This role is held by membership of a working group, not granted.")})
    if target is None:
        raise Invalid({"target": _("Choose a place or an organization.")})
    if not _is_admin(acting_user) and (user.pk == acting_user.pk or not may_grant(acting_user, role, _target_path(target))):
        record(acting_user, "accounts.grant", obj=user, outcome="denied", detail={"role": role, "target": str(target)})
        raise PermissionDenied("accounts.manage")
    if holds(user, role, target):
        raise Conflict(_("This person already holds this role there."))
    grant = add_grant(acting_user=acting_user, user=user, role=role, target=target, starts_on=starts_on, ends_on=ends_on)
    _forget_grants(user)
    return grant


def holds(user, role: str, target) -> bool:
    from fangkong.places.models import Place

    key = {"place": target} if isinstance(target, Place) else {"organization": target}
    return Grant.objects.filter(user=user, role=role, revoked_at__isnull=True, **key).exists()


def _forget_grants(user) -> None:
    user.__dict__.pop("_fk_grants", None)


@transaction.atomic
def revoke(*, acting_user, grant: Grant) -> Grant:
    """Revoke one grant, if the acting user could have given it (else PermissionDenied)."""
    from django.core.exceptions import PermissionDenied

    from fangkong.lib.workflow import Conflict

    target = grant.place or grant.organization
    if not _is_admin(acting_user) and (grant.role == "admin" or not may_grant(acting_user, grant.role, _target_path(target))):
        raise PermissionDenied("accounts.manage")
    locked = Grant.objects.select_for_update().get(pk=grant.pk)
    if locked.revoked_at is not None:
        raise Conflict(_("This grant has already been revoked."))
    locked.active, locked.revoked_at = False, timezone.now()
    locked.save(update_fields=["active", "revoked_at"])
    record(acting_user, "grant.revoke", obj=locked.user, detail={"role": locked.role, "target": str(target or "*")})
    return locked


def _clean_phone(phone: str) -> str:
    from fangkong.lib.identity import IdentityError, normalize_phone
    from fangkong.lib.workflow import Invalid

    try:
        return normalize_phone(phone)
    except IdentityError as exc:
        raise Invalid({"phone": str(exc)}) from None


def account_by_phone(phone: str):
    """The staff profile with this (normalized) phone number, or None."""
    from .models import StaffProfile

    return StaffProfile.objects.select_related("user").filter(phone_bidx__in=blind_indexes("phone", phone)).first()


def _new_username() -> str:
    import secrets

    User = get_user_model()
    while True:
        name = "s" + "".join(secrets.choice("abcdefghjkmnpqrstuvwxyz23456789") for _i in range(7))
        if not User.objects.filter(username=name).exists():
            return name


@transaction.atomic
def create_account(*, acting_user, name: str, phone: str, place, role: str = "", target=None, starts_on=None,
                   ends_on=None):
    """A staff account (no usable password: the person sets one through a one-time link)
    managed from `place`, optionally with a first grant. Invalid for a bad name or phone,
    or a phone number that already has an account (one account per person)."""
    from django.core.exceptions import PermissionDenied

    from fangkong.lib import crypto
    from fangkong.lib.identity import mask_phone
    from fangkong.lib.workflow import Invalid

    from .models import StaffProfile

    name = " ".join((name or "").split())[:150]
    if not name:
        raise Invalid({"name": _("The name is required.")})
    phone = _clean_phone(phone)
    if account_by_phone(phone) is not None:
        raise Invalid({"phone": _("This phone number already has an account.")})
    if not may_create_at(acting_user, place.path):
        raise PermissionDenied("accounts.manage")
    User = get_user_model()
    user = User(username=_new_username(), first_name=name)
    user.set_unusable_password()
    user.save()
    StaffProfile.objects.create(user=user, home_place=place, home_path=place.path, phone_enc=crypto.encrypt(phone),
                                phone_bidx=blind_index("phone", phone), phone_masked=mask_phone(phone),
                                created_by=_actor(acting_user))
    record(acting_user, "accounts.create", obj=user, place_path=place.path, detail={"username": user.username})
    if role:
        grant_role(acting_user=acting_user, user=user, role=role, target=target or place, starts_on=starts_on,
                   ends_on=ends_on)
    return user


@transaction.atomic
def deactivate(*, acting_user, user) -> list[dict]:
    """Deactivate an account: it signs in no more, its grants and unused sign-in links
    stop. Its open items (what registry.todos listed for it) are kept on its profile and
    sent to the managers of its place for reassignment, never silently orphaned."""
    from fangkong.lib import registry
    from fangkong.lib.workflow import Conflict

    from .models import SignInLink, StaffProfile

    _check_manage(acting_user, user)
    if not user.is_active:
        raise Conflict(_("This account is already deactivated."))
    items = [{"key": t.key, "label": str(t.label), "count": t.count, "url": t.url} for t in registry.todos(user)]
    now = timezone.now()
    user.is_active = False
    user.save(update_fields=["is_active"])
    SignInLink.objects.filter(user=user, used_at__isnull=True, revoked_at__isnull=True).update(revoked_at=now)
    profile = StaffProfile.objects.filter(user=user).first()
    if profile is not None:
        profile.deactivated_at, profile.open_items = now, items
        profile.save(update_fields=["deactivated_at", "open_items"])
    record(acting_user, "accounts.deactivate", obj=user, place_path=profile.home_path if profile else "",
           detail={"open_items": [{"key": i["key"], "count": i["count"]} for i in items]})
    if items and profile is not None:
        from fangkong.notify.actions import notify

        notify(kind="accounts.reassign", title=_("Open items to reassign: %(name)s") % {"name": user.first_name},
               body="\n".join(f"{i['label']}: {i['count']}" for i in items), place_path=profile.home_path,
               perms=("accounts.manage",), link=f"/staff/people/{profile.pk}/", acting_user=acting_user)
    return items


# --- One-time sign-in links ---------------------------------------------------------------

@transaction.atomic
def issue_signin_link(*, acting_user, user, send: bool = False) -> str:
    """A one-time link for `user` to set a password (first sign-in or reset): older unused
    links are revoked; only the token's hash is kept, the token is returned once (to show
    as a link and QR code). send: also through the notification channels of the person's
    place (in-app inbox, e-mail, group robots)."""
    import secrets

    from django.urls import reverse

    from .models import SignInLink, StaffProfile

    _check_manage(acting_user, user)
    from fangkong.lib.workflow import Conflict

    if not user.is_active:
        raise Conflict(_("This account is deactivated."))
    now = timezone.now()
    SignInLink.objects.filter(user=user, used_at__isnull=True, revoked_at__isnull=True).update(revoked_at=now)
    token = secrets.token_urlsafe(24)
    hours = settings.SIGNIN_LINK_HOURS
    SignInLink.objects.create(user=user, token_hash=_token_hash(token), created_by=_actor(acting_user),
                              expires_at=now + dt.timedelta(hours=hours))
    record(acting_user, "accounts.signin_link.issue", obj=user, detail={"hours": hours, "sent": send})
    if send:
        from fangkong.notify.actions import notify

        profile = StaffProfile.objects.filter(user=user).first()
        notify(kind="accounts.signin_link", title=_("Your sign-in link"),
               body=_("Open this link once within %(h)d hours to set your password.") % {"h": hours},
               place_path=profile.home_path if profile else "", users=[user],
               link=settings.PUBLIC_URL + reverse("signin_link", kwargs={"token": token}), acting_user=acting_user)
    return token


def signin_link_user(token: str):
    """The user of a usable link (unused, unrevoked, unexpired), or None."""
    from .models import SignInLink

    if not token or len(token) > 64:
        return None
    link = SignInLink.objects.select_related("user").filter(
        token_hash=_token_hash(token), used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now(),
        user__is_active=True).first()
    return link.user if link else None


@transaction.atomic
def use_signin_link(*, token: str, password: str, password2: str):
    """Spend a one-time link: set the account's password. Conflict for a link that is
    unknown, used, revoked or expired (the account is unchanged); Invalid for a password
    the validators refuse or two entries that differ."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from fangkong.lib.workflow import Conflict, Invalid

    from .models import SignInLink

    link = SignInLink.objects.select_for_update().select_related("user").filter(token_hash=_token_hash(token or "")).first()
    now = timezone.now()
    if link is None or link.used_at or link.revoked_at or link.expires_at <= now or not link.user.is_active:
        record(None, "accounts.signin_link.use", outcome="refused", obj=link.user if link else None)
        raise Conflict(_("This sign-in link has expired or has already been used. Ask for a new one."))
    if password != password2:
        raise Invalid({"password2": _("The two passwords differ.")})
    try:
        validate_password(password, link.user)
    except ValidationError as exc:
        raise Invalid({"password": " ".join(exc.messages)}) from None
    link.used_at = now
    link.save(update_fields=["used_at"])
    link.user.set_password(password)
    link.user.save(update_fields=["password"])
    record(link.user, "accounts.signin_link.use", obj=link.user)
    return link.user


@transaction.atomic
def set_delegation(*, acting_user, granter_role: str, roles) -> None:
    """The admin's override of one row of the delegation table (audited); an empty list
    removes the right to delegate; `roles` None restores the table in code."""
    from fangkong.lib.workflow import Invalid
    from fangkong.places.access import all_roles, membership_roles

    from .models import DelegationRule

    known = set(all_roles()) - {"admin"} - membership_roles()
    if granter_role not in known:
        raise Invalid({"granter_role": _("Unknown role")})
    if roles is None:
        DelegationRule.objects.filter(granter_role=granter_role).delete()
    else:
        bad = sorted(set(roles) - known)
        if bad:
            raise Invalid({"roles": _("Unknown role") + ": " + ", ".join(bad)})
        DelegationRule.objects.update_or_create(granter_role=granter_role, defaults={
            "roles": sorted(set(roles)), "updated_by": _actor(acting_user)})
    record(acting_user, "accounts.delegation", detail={"granter": granter_role, "roles": None if roles is None else sorted(set(roles))})


# --- Resident personal links ------------------------------------------------------------

def _token_hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def issue_resident_link(*, acting_user, person, days: int | None = None) -> str:
    """A new personal link token for `person` (older links are revoked). The token is
    returned once, to be shown or sent to the person; only its hash is kept."""
    import secrets

    from .models import ResidentLink

    now = timezone.now()
    days = days or settings.RESIDENT_LINK_DAYS
    ResidentLink.objects.filter(person=person, revoked_at__isnull=True).update(revoked_at=now)
    token = secrets.token_urlsafe(24)
    ResidentLink.objects.create(person=person, token_hash=_token_hash(token), created_by=acting_user if acting_user and
                                acting_user.is_authenticated else None, expires_at=now + dt.timedelta(days=days))
    record(acting_user, "accounts.resident_link.issue", obj=person, detail={"days": days})
    return token


def resident_for_token(token: str):
    """The person of a valid (unexpired, unrevoked) link, or None."""
    from .models import ResidentLink

    if not token or len(token) > 64:
        return None
    link = (ResidentLink.objects.select_related("person", "person__household").filter(
        token_hash=_token_hash(token), revoked_at__isnull=True, expires_at__gt=timezone.now()).first())
    if link is None:
        return None
    # No write here: every resident action is audited already, and a write on each use
    # would cost the resident's report a second commit.
    return link.person


def resident_id_for_token(token: str) -> int | None:
    """The person id of a valid (unexpired, unrevoked) link, or None: what a resident's
    device API needs on every call, read with one prepared statement (fastsql)."""
    from fangkong.lib.db import fastsql

    from .models import ResidentLink

    if not token or len(token) > 64:
        return None
    link = fastsql.get(ResidentLink, ("person", "expires_at", "revoked_at"), token_hash=_token_hash(token))
    if link is None or link.revoked_at is not None or link.expires_at <= timezone.now():
        return None
    return link.person_id


def load_resident(person_id: int):
    from fangkong.residents.models import Person

    return Person.objects.select_related("household").get(pk=person_id)


def revoke_resident_links(*, acting_user, person) -> int:
    from .models import ResidentLink

    n = ResidentLink.objects.filter(person=person, revoked_at__isnull=True).update(revoked_at=timezone.now())
    record(acting_user, "accounts.resident_link.revoke", obj=person, detail={"links": n})
    return n


def apply_grant_dates(today=None) -> int:
    """Grants with dates are active exactly within them (unless revoked): the hourly task."""
    from django.db.models import Q

    today = today or timezone.localdate()
    dated = Grant.objects.filter(revoked_at__isnull=True).filter(Q(starts_on__isnull=False) | Q(ends_on__isnull=False))
    inside = Q(starts_on__isnull=True) | Q(starts_on__lte=today)
    inside &= Q(ends_on__isnull=True) | Q(ends_on__gte=today)
    n = dated.filter(inside, active=False).update(active=True)
    n += dated.filter(active=True).exclude(inside).update(active=False)
    if n:
        record(None, "grant.dates", detail={"changed": n})
    return n
