"""Notifications: an outbox (Message) with one inbox row per user (Recipient) and one
Delivery per message × external channel (DingTalk / WeCom robot webhook, e-mail), each
attempt of which is kept (DeliveryAttempt). The Huey worker delivers (tasks.py).

Message text is already masked when it is stored (no raw ID or phone number), and what a
user sees of a message is only their own Recipient row.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.lib import crypto
from fangkong.places.models import Place


class Message(models.Model):
    SCOPE_PATH = "place_path"

    kind = models.CharField(max_length=60, db_index=True)  # "gate.fever", "inflow.overdue", ...
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    place_path = models.CharField(max_length=255, db_index=True)
    roles = models.CharField(max_length=200, blank=True)  # comma-separated roles it was meant for
    link = models.CharField(max_length=500, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    obj_type = models.CharField(max_length=60, blank=True)
    obj_id = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind}: {self.title}"

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]


class Recipient(models.Model):
    """One message in one user's inbox."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox")
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="notify_recipient_once")]
        indexes = [models.Index(fields=["user", "read_at"])]


class Channel(models.Model):
    """An external endpoint that gets the messages of a place subtree."""

    SCOPE_PATH = "place_path"

    class Kind(models.TextChoices):
        DINGTALK = "dingtalk", _("DingTalk robot")
        WECOM = "wecom", _("WeCom robot")
        EMAIL = "email", _("E-mail")

    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=100)
    kind = models.CharField(_("channel type"), max_length=10, choices=Kind.choices)
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    target = models.CharField(_("webhook URL or e-mail address"), max_length=500)
    secret = models.BinaryField(null=True, blank=True, editable=False)  # DingTalk signing secret, encrypted
    # Re-encrypted and re-indexed by `fangkong rotate-keys` (fangkong.lib.crypto).
    ENCRYPTED = (crypto.Encrypted("secret", aad=b"notify.channel"),)
    kinds = models.CharField(_("message kinds"), max_length=300, blank=True,
                             help_text=_("Comma-separated, e.g. gate.fever, observation.*; empty: all kinds"))
    roles = models.CharField(_("roles"), max_length=200, blank=True)  # comma-separated; empty: any
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["place_path", "name"]

    def __str__(self):
        return self.name

    @property
    def kind_list(self) -> list[str]:
        return [k.strip() for k in self.kinds.split(",") if k.strip()]

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]

    @property
    def target_display(self) -> str:
        """The target without its access token (webhook URLs carry one in the query)."""
        if self.kind == self.Kind.EMAIL:
            return self.target
        return self.target.split("?", 1)[0] + ("?…" if "?" in self.target else "")

    def kind_labels(self) -> list:
        from .labels import kind_label

        return [kind_label(k) for k in self.kind_list]

    def role_labels(self) -> list:
        from fangkong.places.access import role_label

        return [role_label(r) for r in self.role_list]

    def matches(self, message: Message) -> bool:
        if not self.active or not message.place_path.startswith(self.place_path):
            return False
        kinds = self.kind_list
        if kinds and not any(message.kind == k or (k.endswith("*") and message.kind.startswith(k[:-1])) for k in kinds):
            return False
        roles = self.role_list
        return not roles or bool(set(roles) & set(message.role_list))


class Delivery(models.Model):
    """One message to one channel: pending (not tried yet) -> sent, or failed (will be tried
    again) -> ... -> sent or dead (NOTIFY_MAX_ATTEMPTS reached; an admin may retry it).
    `next_attempt_at` is when the worker may try (again);
    while an attempt runs it is pushed forward by a lease, so a crashed attempt is retried."""

    SCOPE_PATH = "place_path"

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        FAILED = "failed", _("Failed, will retry")
        SENT = "sent", _("Sent")
        DEAD = "dead", _("Given up")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the channel's
    state = models.CharField(max_length=8, db_index=True, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["message", "channel"], name="notify_delivery_once")]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    ok = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]
