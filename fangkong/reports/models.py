"""The daily report (M8): figures that cannot be derived from the data (supplies on hand...)
entered by each station and unit, and the closed days kept as they were.

* FigureDefinition — what is entered (key, label, unit, which organization kinds report it).
* Submission — one organization's figures for one day; its state machine (draft → confirmed
  → reopened → confirmed ...) is the table TRANSITIONS in actions.py.
* ClosedDay — the snapshot of a day at closing: every metric's (path, count) pairs and
  by_org pairs, and every organization's entered values. Never rewritten.
* Correction — a change after closing (an entered figure corrected by a coordinator with a
  reason), shown next to the kept figure.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.places.models import Organization


class FigureDefinition(models.Model):
    key = models.SlugField(_("key"), max_length=40, unique=True)
    label = models.CharField(_("label"), max_length=60)
    unit = models.CharField(_("unit"), max_length=10, blank=True)
    # Comma-separated Organization.Kind values whose stations/units report this figure.
    org_kinds = models.CharField(_("reported by"), max_length=100)
    order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "key"]
        verbose_name = _("figure")

    def __str__(self):
        return self.label

    @property
    def kinds(self) -> list[str]:
        return [k for k in self.org_kinds.split(",") if k]

    @property
    def kind_labels(self) -> list:
        """The kinds of organization that report this figure, by their display names."""
        names = dict(Organization.Kind.choices)
        return [names.get(k, k) for k in self.kinds]


class Submission(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        CONFIRMED = "confirmed", _("Confirmed")
        REOPENED = "reopened", _("Reopened")

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="report_submissions")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the organization's
    day = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    version = models.PositiveIntegerField(default=1)
    values = models.JSONField(default=dict)  # {figure key: int}
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "organization_id"

    class Meta:
        ordering = ["day", "organization_id"]
        constraints = [models.UniqueConstraint(fields=["organization", "day"], name="reports_one_submission_per_day")]
        indexes = [models.Index(fields=["day", "state"], name="reports_submission_day")]

    def __str__(self):
        return f"{self.organization} {self.day}"


class ClosedDay(models.Model):
    day = models.DateField(unique=True)
    closed_at = models.DateTimeField()
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    # {"metrics": {key: [[path, n], ...]}, "by_org": {key: [[org id, n], ...]},
    #  "entered": {org id: {"state": ..., "values": {figure key: n}}}, "figures": [figure keys]}
    snapshot = models.JSONField()

    class Meta:
        ordering = ["-day"]

    def __str__(self):
        return str(self.day)


class Correction(models.Model):
    closed_day = models.ForeignKey(ClosedDay, on_delete=models.PROTECT, related_name="corrections")
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="corrections")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    figure = models.CharField(max_length=40)
    old = models.IntegerField(null=True)
    new = models.IntegerField()
    reason = models.CharField(max_length=200)
    corrected_at = models.DateTimeField(auto_now_add=True)
    corrected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["corrected_at", "id"]
