"""The inflow closed loop (M4): an application for a person returning from elsewhere goes
through six links, each a named action (actions.py) recorded with who and when.

    (1) applied  -> (2) forwarded -> (3) reviewed: approved / rejected / more info asked
    -> (4) result pushed to unit and person -> (5) unit: notified, travelling, planned
    arrival -> (6) arrival registered by the committee; the control measure starts.

Origins carry a risk level; MeasurePolicy (edited by an admin) turns the level into the
measure and its length.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.places.models import Organization, Place
from fangkong.residents.models import Household, Person


class Risk(models.TextChoices):
    HIGH = "high", _("High risk")
    MEDIUM = "medium", _("Medium risk")
    LOW = "low", _("Low risk")
    NONE = "none", _("No risk")


class Measure(models.TextChoices):
    CENTRAL = "central_observation", _("Centralized medical observation")
    HOME = "home_observation", _("Home medical observation")
    MONITORING = "health_monitoring", _("Health monitoring")
    NONE = "none", _("No measure")


class Origin(models.Model):
    """Where people come from (a province, city or district), with its current risk level."""

    name = models.CharField(_("origin"), max_length=60, unique=True)
    risk = models.CharField(_("risk level"), max_length=10, choices=Risk.choices, default=Risk.NONE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name}（{self.get_risk_display()}）"


class MeasurePolicy(models.Model):
    """Risk level -> control measure and its days (the admin's policy table)."""

    risk = models.CharField(max_length=10, choices=Risk.choices, unique=True)
    measure = models.CharField(max_length=24, choices=Measure.choices)
    days = models.PositiveSmallIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.get_risk_display()} → {self.get_measure_display()} {self.days}"


class DueLink(models.TextChoices):
    """The link an open application waits for, and so who owns its deadline."""

    FORWARD = "forward", _("Forwarding")
    REVIEW = "review", _("Review")
    TRAVEL = "travel", _("Travel confirmation")
    ARRIVE = "arrive", _("Arrival registration")


class Application(models.Model):
    SCOPE_PATH = "place_path"  # the destination: the committee of that community decides
    SCOPE_ORG = "employer_id"  # the unit that applied sees its own applications

    class State(models.TextChoices):
        SUBMITTED = "submitted", pgettext_lazy("state", "Submitted")
        FORWARDED = "forwarded", _("Forwarded to the committee")
        MORE_INFO = "more_info", _("More information asked")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        TRAVELLING = "travelling", _("Travelling")
        ARRIVED = "arrived", _("Arrived")

    serial = models.CharField(max_length=24, unique=True, editable=False)
    # None while the person is registered in another community and the transfer request
    # to its committee waits (`transfer`); the name and masked ID as given are kept on the
    # application itself, so its pages show the same whether the number was new here or
    # registered elsewhere.
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="inflow_applications")
    person_name = models.CharField(_("name"), max_length=50, blank=True)
    person_id_masked = models.CharField(max_length=18, blank=True)
    transfer = models.ForeignKey("residents.Transfer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    employer = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    origin = models.ForeignKey(Origin, on_delete=models.PROTECT, related_name="+")
    risk = models.CharField(max_length=10, choices=Risk.choices)  # the origin's level when applied
    purpose = models.CharField(_("purpose"), max_length=200, blank=True)
    transport = models.CharField(_("transport"), max_length=100, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.SUBMITTED, db_index=True)
    version = models.PositiveIntegerField(default=1)
    client_key = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    submitted_at = models.DateTimeField()
    forwarded_at = models.DateTimeField(null=True, blank=True)
    review_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The deadline of the link the application waits for now (None: nothing is due, e.g.
    # more information asked, rejected, arrived); escalated_at is set once when an
    # overdue link is escalated and cleared whenever a new link becomes due.
    due_link = models.CharField(max_length=10, choices=DueLink.choices, blank=True)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    travelling_at = models.DateTimeField(null=True, blank=True)
    planned_arrival = models.DateField(_("planned arrival"), null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(_("reason"), max_length=300, blank=True)

    arrival_temperature = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    arrival_healthy = models.BooleanField(null=True)
    measure = models.CharField(max_length=24, choices=Measure.choices, blank=True)
    measure_start = models.DateField(null=True, blank=True)
    measure_end = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["state", "review_due_at"]), models.Index(fields=["escalated_at", "due_at"])]
        constraints = [
            # One open application per person, even under concurrent submissions.
            models.UniqueConstraint(fields=["person"], name="inflow_one_open_per_person", condition=models.Q(
                state__in=["submitted", "forwarded", "more_info", "approved", "travelling"])),
        ]

    def __str__(self):
        return self.serial


class Event(models.Model):
    """One link of one application: who did what, when (turnaround is measured from these)."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20)
    state = models.CharField(max_length=12)  # the state after the action
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(db_index=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
