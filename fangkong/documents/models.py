"""Official documents (通知单/通知书): notices the platform issues as PDFs, each with a
serial number and a QR code whose random verification code lets anyone confirm on the
platform that the paper in front of them is authentic and still valid.

A document is issued about a subject (an inflow application, an observation record...)
and copies the subject's place path and organization, so the access module scopes it like
its subject. What is printed is stored as issued (title, body, [label, value] fields with
values already masked) together with a SHA-256 of that canonical content.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fangkong.places.models import Organization


class Document(models.Model):
    SCOPE_PATH = "place_path"  # the subject's place: its community's committee sees it
    SCOPE_ORG = "org_id"  # the subject's unit (a liaison sees its own staff's notices)

    class Kind(models.TextChoices):
        INFLOW_APPROVAL = "inflow_approval", _("Inflow approval notice")
        RELEASE = "release", _("Release from medical observation notice")
        RESUMPTION_APPROVAL = "resumption_approval", _("Work resumption approval notice")
        RESUMPTION_SUSPENSION = "resumption_suspension", _("Work suspension notice")
        COMMAND_NOTICE = "command_notice", _("Headquarters notice")
        DONATION_THANKS = "donation_thanks", _("Letter of thanks for a donation")

    kind = models.CharField(max_length=32, choices=Kind.choices)
    serial = models.CharField(max_length=32, unique=True, editable=False)
    # The issuer's own number when it has one (a headquarters notice's 〔2020〕3号, gapless per
    # issuer and year, so not unique across issuers): printed as the document's serial at the
    # top; the registry serial above stays the document's unique key (verify page, footer).
    number = models.CharField(max_length=40, blank=True, editable=False)
    code = models.CharField(max_length=64, unique=True, editable=False)  # random, URL-safe, in the QR code
    title = models.CharField(max_length=100)
    body = models.TextField(blank=True)
    fields = models.JSONField(default=list)  # [[label, value], ...] as printed; values masked
    holder = models.CharField(max_length=50, blank=True)  # masked name, shown on the verify page
    issuer = models.CharField(max_length=120)  # e.g. 荟萃社区居民委员会
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    org = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    subject_type = models.CharField(max_length=64)  # "app_label.model"
    subject_id = models.PositiveBigIntegerField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoke_reason = models.CharField(max_length=300, blank=True)
    sha256 = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]
        constraints = [
            # One valid document per (kind, subject): a concurrent second issue fails here.
            models.UniqueConstraint(fields=["kind", "subject_type", "subject_id"], condition=Q(revoked_at__isnull=True),
                                    name="document_one_valid_per_subject"),
        ]

    def __str__(self):
        return self.shown_serial

    @property
    def shown_serial(self) -> str:
        """The serial a reader sees on the paper: the issuer's own number, else the registry's."""
        return self.number or self.serial

    @property
    def valid(self) -> bool:
        return self.revoked_at is None

    def canonical(self) -> bytes:
        """The content a reader relies on, in one stable serialization."""
        content = {
            "kind": self.kind, "serial": self.serial, "code": self.code, "title": self.title, "body": self.body,
            "fields": [[str(k), str(v)] for k, v in self.fields], "holder": self.holder, "issuer": self.issuer,
            "issued_at": self.issued_at.astimezone(dt.timezone.utc).isoformat(timespec="seconds"),
            "subject": f"{self.subject_type}:{self.subject_id}",
        }
        if self.number:  # only when set: the fingerprints of documents without one are unchanged
            content["number"] = self.number
        return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def compute_sha256(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    def content_intact(self) -> bool:
        return self.sha256 == self.compute_sha256()

    def verify_url(self) -> str:
        from django.urls import reverse

        return settings.PUBLIC_URL + reverse("document_verify", kwargs={"code": self.code})
