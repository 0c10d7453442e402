"""Named actions of the notifications module, and `notify()`, which other modules call
(directly or through `lib.registry.raise_alert`, whose sink is `alert_sink` below).

Every write runs in one transaction with an audit event; deliveries are handed to the Huey
worker on commit (tasks.deliver). The worker's own writes are `attempt_delivery` and
`due_deliveries`; an attempt claims its delivery with one conditional UPDATE (a lease on
next_attempt_at), makes the network call outside any transaction and then records it, so
two workers never send one delivery at once and a crash mid-attempt is retried later.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib.identity import mask_numbers
from fangkong.lib.workflow import Invalid  # noqa: F401  (actions.Invalid for callers)
from fangkong.lib import crypto
from fangkong.places.access import ancestor_paths

from . import transport
from .labels import KINDS
from .models import Channel, Delivery, DeliveryAttempt, Message, Recipient

log = logging.getLogger(__name__)
D = Delivery.State
LEASE = dt.timedelta(seconds=60)  # longer than any one attempt (webhook 5 s, SMTP timeout)

# Defence in depth: text that looks like an ID number or a phone number is masked.

ALERT_TITLES = {
    "gate.fever": gettext_lazy("Fever found at a gate"),
    "clinic.fever": gettext_lazy("Fever found at a clinic's pre-screening"),
    "observation.fever": gettext_lazy("Fever under medical observation"),
    "observation.missed": gettext_lazy("Temperature report missed"),
    "access.denied": gettext_lazy("Repeated refused access by one account"),
}


def mask(text: str) -> str:
    return mask_numbers(text)


def safe_link(link: str) -> str:
    """A site path ("/inflow/12/") or an http(s) URL; anything else (javascript:, //host) is dropped."""
    link = (link or "").strip()
    if (link.startswith("/") and not link.startswith("//")) or re.match(r"https?://", link):
        return link[:500]
    return ""


def responsible_users(place_path: str, perms: Iterable[str], org_id: int | None = None):
    """Active users holding one of `perms` over the place at `place_path` (or over the
    organization org_id): the access module decides who that is, so renaming or splitting a
    role cannot silently stop a message. Admins are never included."""
    from fangkong.places.access import holders

    users = get_user_model().objects.none()
    for perm in perms:
        users = users | holders(perm, place_path=place_path, org_id=org_id)
    return users


def _enqueue(delivery_ids: list[int]) -> None:
    from .tasks import deliver

    for pk in delivery_ids:
        try:
            deliver(pk)
        except Exception:  # the queue is down: the periodic task picks the delivery up later
            log.exception("could not enqueue delivery %s; the periodic task will retry it", pk)


def notify(*, kind: str, title: str, body: str, place_path: str, perms: Iterable[str] = (), users: Iterable = (),
           link: str = "", dedupe_key: str = "", obj=None, acting_user=None, org_id: int | None = None) -> Message:
    """Create a message for the users given plus every active user holding one of `perms`
    over `place_path` (or over the organization org_id), and a delivery for every matching
    active channel (a channel chooses by the roles holding those permissions). The same
    `dedupe_key` never notifies twice: the first message is returned."""
    from fangkong.places.access import perm_roles

    perms = tuple(dict.fromkeys(p for p in perms if p))
    roles = tuple(dict.fromkeys(r for p in perms for r in sorted(perm_roles(p))))
    dedupe_key = (dedupe_key or "")[:200]
    if dedupe_key:
        existing = Message.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            message = Message.objects.create(
                kind=kind[:60], title=mask(str(title))[:200], body=mask(str(body)), place_path=place_path,
                roles=",".join(roles), link=safe_link(link), dedupe_key=dedupe_key or None,
                obj_type=f"{obj._meta.app_label}.{obj._meta.model_name}" if obj is not None else "",
                obj_id=str(obj.pk) if obj is not None else "",
            )
            user_ids = set(responsible_users(place_path, perms, org_id).values_list("pk", flat=True))
            user_ids |= {getattr(u, "pk", u) for u in users}
            Recipient.objects.bulk_create([Recipient(message=message, user_id=uid) for uid in sorted(user_ids)])
            candidates = Channel.objects.filter(active=True, place_path__in=ancestor_paths(place_path))
            channels = [c for c in candidates if c.matches(message)]
            now = timezone.now()
            deliveries = Delivery.objects.bulk_create([
                Delivery(message=message, channel=c, place_path=c.place_path, next_attempt_at=now) for c in channels
            ])
            ids = [d.pk for d in deliveries] if all(d.pk for d in deliveries) else list(
                Delivery.objects.filter(message=message).values_list("pk", flat=True))
            record(acting_user, "notify.send", obj=message,
                   detail={"kind": message.kind, "recipients": len(user_ids), "deliveries": len(ids), "dedupe": bool(dedupe_key)})
            transaction.on_commit(lambda: _enqueue(ids))
    except IntegrityError:
        if dedupe_key:  # a concurrent notify() with the same key won
            existing = Message.objects.filter(dedupe_key=dedupe_key).first()
            if existing is not None:
                return existing
        raise
    return message


def alert_sink(alert) -> Message | None:
    """lib.registry alert sink: the holders of the alert's permissions over its place (and,
    with an org_id, over that organization) hear of it, once per kind, object and key (or, without an object, per kind, place, person and text). A failure
    here is logged and does not undo the caller's own record (its board still shows it)."""
    try:
        return _alert_message(alert)
    except Exception:
        log.exception("alert %s could not be turned into a notification", alert.kind)
        return None


def _alert_message(alert) -> Message:
    if alert.obj_type and alert.obj_id is not None:
        key = f"alert:{alert.kind}:{alert.obj_type}:{alert.obj_id}:{alert.key}"
    else:
        digest = hashlib.sha256(f"{alert.place_path}|{alert.person_id}|{alert.text}".encode()).hexdigest()[:24]
        key = f"alert:{alert.kind}:{digest}"
    with translation.override(settings.LANGUAGE_CODE):
        # A kind without a title of its own is named by its display name (notify/labels.py).
        title = str(ALERT_TITLES.get(alert.kind) or KINDS.get(alert.kind) or gettext_lazy("Alert"))
    return notify(kind=alert.kind, title=title, body=alert.text, place_path=alert.place_path, perms=alert.perms,
                  org_id=alert.org_id, dedupe_key=key)


# --- Inbox --------------------------------------------------------------------------------

@transaction.atomic
def mark_read(*, acting_user, recipient_ids: Iterable[int]) -> int:
    """Mark the user's own inbox rows read; any id that is not the user's -> Http404 and
    nothing changes."""
    ids = {int(i) for i in recipient_ids}
    mine = Recipient.objects.filter(user=acting_user, pk__in=ids)
    if mine.count() != len(ids):
        raise Http404
    n = mine.filter(read_at__isnull=True).update(read_at=timezone.now())
    record(acting_user, "notify.read", detail={"count": n})
    return n


@transaction.atomic
def mark_all_read(*, acting_user) -> int:
    n = Recipient.objects.filter(user=acting_user, read_at__isnull=True).update(read_at=timezone.now())
    record(acting_user, "notify.read_all", detail={"count": n})
    return n


def unread_count(user) -> int:
    return Recipient.objects.filter(user=user, read_at__isnull=True).count()


# --- Channels -----------------------------------------------------------------------------

@transaction.atomic
def create_channel(*, acting_user, name: str, kind: str, place, target: str, secret: str = "", kinds: str = "",
                   roles: Iterable[str] = ()) -> Channel:
    from django.core.validators import EmailValidator, URLValidator
    from django.core.exceptions import ValidationError

    from fangkong.places.access import all_roles

    errors = {}
    name, target, secret = (name or "").strip(), (target or "").strip(), (secret or "").strip()
    if not name:
        errors["name"] = _("Enter a name")
    if kind not in Channel.Kind.values:
        errors["kind"] = _("Choose a channel type")
    elif kind == Channel.Kind.EMAIL:
        try:
            EmailValidator()(target)
        except ValidationError:
            errors["target"] = _("Enter a valid e-mail address")
    else:
        try:
            URLValidator(schemes=["http", "https"])(target)
        except ValidationError:
            errors["target"] = _("Enter the robot's webhook URL (http or https)")
    if secret and kind != Channel.Kind.DINGTALK:
        errors["secret"] = _("Only DingTalk robots use a signing secret")
    kind_items = [t.strip() for t in re.split(r"[,，\s]+", kinds or "") if t.strip()]
    if any(not re.fullmatch(r"[a-z0-9_.]+\*?", t) for t in kind_items):
        errors["kinds"] = _("Message kinds are like gate.fever or observation.*")
    roles = [r for r in roles if r]
    if any(r not in all_roles() for r in roles):
        errors["roles"] = _("Unknown role")
    if errors:
        raise Invalid(errors)
    channel = Channel.objects.create(
        name=name[:100], kind=kind, place=place, place_path=place.path, target=target[:500],
        secret=crypto.encrypt(secret, aad=b"notify.channel") if secret else None,
        kinds=",".join(kind_items), roles=",".join(roles),
    )
    record(acting_user, "notify.channel_create", obj=channel, detail={"kind": kind, "name": channel.name})
    return channel


def channel_secret(channel: Channel) -> str:
    return crypto.decrypt(channel.secret, aad=b"notify.channel") if channel.secret else ""


@transaction.atomic
def set_channel_active(*, acting_user, channel: Channel, active: bool) -> Channel:
    Channel.objects.filter(pk=channel.pk).update(active=active)
    channel.active = active
    record(acting_user, "notify.channel_activate" if active else "notify.channel_deactivate", obj=channel)
    return channel


@transaction.atomic
def retry_delivery(*, acting_user, delivery: Delivery) -> Delivery:
    """A dead (or failed) delivery gets a fresh round of attempts now; a sent one stays sent."""
    n = Delivery.objects.filter(pk=delivery.pk, state__in=[D.DEAD, D.FAILED]).update(
        state=D.PENDING, attempts=0, next_attempt_at=timezone.now())
    delivery.refresh_from_db()
    record(acting_user, "notify.delivery_retry", obj=delivery, outcome="ok" if n else "noop")
    if n:
        transaction.on_commit(lambda: _enqueue([delivery.pk]))
    return delivery


# --- The worker's writes -------------------------------------------------------------------

def backoff(attempts: int) -> dt.timedelta:
    """Delay after the n-th failed attempt: base, 2×, 4×, ... capped at one hour."""
    return dt.timedelta(seconds=min(settings.NOTIFY_RETRY_SECONDS * 2 ** max(attempts - 1, 0), 3600))


def _send(delivery: Delivery) -> transport.Outcome:
    message, channel = delivery.message, delivery.channel
    link = transport.absolute(message.link)
    if channel.kind == Channel.Kind.EMAIL:
        return transport.send_email(channel.target, message.title, message.body, link)
    if channel.kind == Channel.Kind.DINGTALK:
        url = channel.target
        secret = channel_secret(channel)
        if secret:
            url = transport.signed_url(url, secret)
        return transport.post_json(url, transport.dingtalk_payload(message.title, message.body, link))
    return transport.post_json(channel.target, transport.wecom_payload(message.title, message.body, link))


def attempt_delivery(*, delivery_id: int, now=None) -> Delivery | None:
    """One attempt of one delivery, if it is due. Returns the delivery after the attempt,
    or None when it was not due (sent, dead, not yet time, or another worker has it)."""
    now = now or timezone.now()
    claimed = Delivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), pk=delivery_id, state__in=[D.PENDING, D.FAILED],
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("message", "channel").get(pk=delivery_id)
    started = timezone.now()
    try:
        outcome = _send(delivery)
    except Exception as exc:  # a bug or an unexpected library error: recorded like any failure
        log.exception("delivery %s failed unexpectedly", delivery_id)
        outcome = transport.Outcome(False, None, f"{type(exc).__name__}"[:300])
    finished = timezone.now()
    error = mask(outcome.error)[:500]
    with transaction.atomic():
        DeliveryAttempt.objects.create(delivery=delivery, number=delivery.attempts, at=started, ok=outcome.ok,
                                       status_code=outcome.status_code, error=error,
                                       duration_ms=int((finished - started).total_seconds() * 1000))
        fields = {"last_status_code": outcome.status_code, "last_error": error}
        if outcome.ok:
            fields.update(state=D.SENT, sent_at=finished, next_attempt_at=None)
        elif delivery.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
            fields.update(state=D.DEAD, next_attempt_at=None)
        else:
            fields.update(state=D.FAILED, next_attempt_at=finished + backoff(delivery.attempts))
        Delivery.objects.filter(pk=delivery_id).update(**fields)
        for k, v in fields.items():
            setattr(delivery, k, v)
        if delivery.state in (D.SENT, D.DEAD):
            record(None, f"notify.delivery_{delivery.state}", obj=delivery, outcome="ok" if outcome.ok else "failed",
                   detail={"channel": delivery.channel_id, "attempts": delivery.attempts, "status": outcome.status_code})
    if not outcome.ok:
        log.warning("delivery %s attempt %s failed: %s", delivery_id, delivery.attempts, error)
    return delivery


def due_deliveries(*, now=None, limit: int = 500) -> list[int]:
    """Deliveries waiting for an attempt whose time has come (never sent because the worker
    was down, a retry whose delay has passed, or an attempt whose worker died)."""
    now = now or timezone.now()
    return list(Delivery.objects.filter(state__in=[D.PENDING, D.FAILED], next_attempt_at__lte=now)
                .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
