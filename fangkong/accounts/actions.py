"""Account writes: sign-in with lock-out, users and grants."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.audit.actions import record
from fangkong.lib.crypto import blind_index

from fangkong.places.models import Grant

from .models import LoginThrottle


class LockedOut(Exception):
    def __init__(self, until):
        super().__init__("locked")
        self.until = until


def sign_in(*, request, username: str, password: str):
    """Authenticate; returns the user or None. Raises LockedOut while the name is locked.

    Failures are counted per username (known or not, so the answer reveals nothing);
    after LOGIN_MAX_FAILURES in a row the name is locked for LOGIN_LOCKOUT_SECONDS.
    """
    user, locked_until = _sign_in(request, (username or "").strip()[:150], password)
    if locked_until is not None:
        raise LockedOut(locked_until)
    return user


@transaction.atomic
def _sign_in(request, username: str, password: str):
    # Commits before LockedOut is raised, so the count and the lock are kept.
    now = timezone.now()
    throttle, _ = LoginThrottle.objects.select_for_update().get_or_create(key=blind_index("login", username))
    if throttle.locked_until and throttle.locked_until > now:
        record(None, "auth.login", outcome="locked", detail={"username": username})
        return None, throttle.locked_until
    user = authenticate(request, username=username, password=password)
    if user is None:
        throttle.failures += 1
        if throttle.failures >= settings.LOGIN_MAX_FAILURES:
            throttle.locked_until = now + dt.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
            throttle.failures = 0
        throttle.save()
        record(None, "auth.login", outcome="failed", detail={"username": username})
        return None, (throttle.locked_until if throttle.locked_until and throttle.locked_until > now else None)
    throttle.failures = 0
    throttle.locked_until = None
    throttle.save()
    record(user, "auth.login")
    return user, None


@transaction.atomic
def create_user(*, acting_user, username: str, password: str, display_name: str = "", grants=()):
    User = get_user_model()
    user = User.objects.create_user(username=username, password=password, first_name=display_name[:150])
    for role, target in grants:
        add_grant(acting_user=acting_user, user=user, role=role, target=target)
    record(acting_user, "account.create", obj=user, detail={"username": username})
    return user


@transaction.atomic
def add_grant(*, acting_user, user, role: str, target=None) -> Grant:
    from fangkong.lib.workflow import Invalid
    from fangkong.places.access import all_roles
    from fangkong.places.models import Organization, Place

    if role not in all_roles():  # roles are declared by the apps (permissions.py)
        raise Invalid({"role": _("Unknown role")})
    place = target if isinstance(target, Place) else None
    org = target if isinstance(target, Organization) else None
    grant = Grant.objects.create(user=user, role=role, place=place, organization=org)
    record(acting_user, "grant.create", obj=grant, detail={"role": role, "target": str(target or "*")})
    return grant


@transaction.atomic
def revoke_grant(*, acting_user, user, role: str, target=None) -> int:
    from fangkong.places.models import Organization, Place

    qs = Grant.objects.filter(user=user, role=role, active=True,
                              place=target if isinstance(target, Place) else None,
                              organization=target if isinstance(target, Organization) else None)
    n = qs.update(active=False)
    if n:
        record(acting_user, "grant.revoke", obj=user, detail={"role": role, "target": str(target or "*")})
    return n


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
