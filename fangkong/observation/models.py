"""Control measures (M5): home and centralized medical observation and health monitoring.

An Observation is one person's measure: it starts on arrival (inflow) or by staff, runs
from its start to its planned end (policy days), takes twice-daily temperature reports in
configured windows, raises alerts for fever, symptoms and missed windows, and ends by a
medic's release, a transfer to hospital, or is extended. Centralized observation happens
in a site (an Organization of kind "site") in one of its rooms.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.places.models import Organization
from fangkong.residents.models import Person

SYMPTOMS = [
    ("cough", _("Cough")),
    ("sore_throat", _("Sore throat")),
    ("fatigue", _("Fatigue")),
    ("short_breath", _("Shortness of breath")),
    ("diarrhoea", _("Diarrhoea")),
    ("taste_smell", _("Loss of taste or smell")),
]
SYMPTOM_KEYS = [k for k, _l in SYMPTOMS]


class Room(models.Model):
    """A room of a centralized observation site, with its capacity (beds)."""

    site = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="rooms", limit_choices_to={"kind": "site"})
    number = models.CharField(_("room"), max_length=20)
    capacity = models.PositiveSmallIntegerField(_("capacity"), default=1)
    active = models.BooleanField(default=True)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the site's place

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "site_id"

    class Meta:
        ordering = ["site", "number"]
        constraints = [models.UniqueConstraint(fields=["site", "number"], name="room_unique_number")]

    def __str__(self):
        return f"{self.site.name} {self.number}"


class Observation(models.Model):
    class Kind(models.TextChoices):
        HOME = "home_observation", _("Home medical observation")
        CENTRAL = "central_observation", _("Centralized medical observation")
        MONITORING = "health_monitoring", _("Health monitoring")

    class State(models.TextChoices):
        ACTIVE = "active", _("Under observation")
        HOSPITAL = "hospital", _("Transferred to hospital")
        RELEASED = "released", _("Released")

    # None once retention has cut the link (link_days after a release, observation/retention.py)
    person = models.ForeignKey(Person, null=True, on_delete=models.PROTECT, related_name="observations")
    kind = models.CharField(_("measure"), max_length=24, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE, db_index=True)
    version = models.PositiveIntegerField(default=1)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the person's home place
    site = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.PROTECT, related_name="occupants")
    application = models.OneToOneField("inflow.Application", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="observation")
    start_date = models.DateField(_("start"))
    planned_end = models.DateField(_("planned end"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    psych_support = models.BooleanField(_("needs psychological support"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    end_note = models.CharField(max_length=300, blank=True)
    health_cleared_at = models.DateTimeField(null=True, blank=True, editable=False)  # by retention

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "site_id"  # the medics of a site see the persons observed there

    class Meta:
        ordering = ["planned_end", "id"]
        constraints = [
            # One running measure per person: a second start while one runs is refused.
            models.UniqueConstraint(fields=["person"], condition=models.Q(state__in=["active", "hospital"]),
                                    name="observation_one_open_per_person"),
        ]
        # The daily figures (contributions.py) read these columns of every observation grouped by
        # place: from this index alone, in place order (bench W7).
        indexes = [models.Index(fields=["place_path", "start_date", "ended_at", "created_at", "state"],
                                name="observation_daily")]

    def __str__(self):
        return f"{self.person.name if self.person_id else '-'} {self.get_kind_display()}"


class Report(models.Model):
    """One temperature report in one window of one day (twice a day by default)."""

    class Source(models.TextChoices):
        SELF = "self", _("Self-reported")
        STAFF = "staff", _("Measured by staff")
        VIDEO = "video", _("After a video check")

    observation = models.ForeignKey(Observation, on_delete=models.CASCADE, related_name="reports")
    day = models.DateField()
    window = models.PositiveSmallIntegerField()  # index into settings.OBSERVATION_WINDOWS
    temperature = models.DecimalField(max_digits=3, decimal_places=1, null=True)  # None: cleared by retention
    symptoms = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reported_at = models.DateTimeField()
    # How a resend is recognised (actions.report: looked up before the insert, and again
    # under the observation's lock). Unique with `day`, not alone: on PostgreSQL the table
    # is partitioned by month on `day` (migration 0005), and a partitioned table's unique
    # keys must hold the partition key. The key is the observation's (actions._form_key),
    # and `day` is the server's day at receipt, so a resend on a later day has another day:
    # the locked lookup, not this constraint, is what keeps it from being a second report.
    client_key = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        ordering = ["day", "window"]
        constraints = [models.UniqueConstraint(fields=["observation", "day", "window"], name="report_one_per_window"),
                       models.UniqueConstraint(fields=["client_key", "day"], name="report_client_key_day")]
        indexes = [models.Index(fields=["day", "observation"], name="observation_report_day")]  # daily figures (W7)

    @property
    def fever(self) -> bool:
        return self.temperature is not None and self.temperature >= settings.FEVER_THRESHOLD


class Alert(models.Model):
    """Something staff must act on: a fever or symptoms in a report, or a missed window."""

    class Kind(models.TextChoices):
        FEVER = "fever", _("Fever")
        SYMPTOMS = "symptoms", _("Symptoms")
        MISSED = "missed", _("Missed report")

    observation = models.ForeignKey(Observation, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    day = models.DateField()
    window = models.PositiveSmallIntegerField()
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    handled_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["observation", "kind", "day", "window"], name="alert_once")]
        indexes = [models.Index(fields=["day", "kind"], name="observation_alert_day")]  # daily figures

    def detail_display(self) -> str:
        """The detail in the reader's language (symptoms are stored as their keys)."""
        if self.kind == self.Kind.SYMPTOMS:
            labels = dict(SYMPTOMS)
            return "、".join(str(labels.get(k, k)) for k in self.detail.split(", "))
        return self.detail


class SupplyRequest(models.Model):
    """A request of the observed household for supplies or medicine, brought to the door."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Delivered")

    observation = models.ForeignKey(Observation, on_delete=models.CASCADE, related_name="requests")
    kind = models.CharField(max_length=10, choices=[("supplies", _("Supplies")), ("medicine", _("Medicine"))])
    text = models.CharField(_("what is needed"), max_length=300)
    state = models.CharField(max_length=6, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    client_key = models.CharField(max_length=64, unique=True, null=True, blank=True)


EVENT_LABELS = {
    "start": _("Started"), "extend": _("Extended"), "transfer": _("Transferred to hospital"), "resume": _("Back from hospital"),
    "release": _("Released"), "room": _("Room"), "psych": _("Psychological support"), "alert_handled": _("Alert handled"),
}


class Event(models.Model):
    """What happened to an observation, with who and when (start, room, extend, release...)."""

    def label(self):
        return EVENT_LABELS.get(self.action, self.action)

    observation = models.ForeignKey(Observation, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20)
    actor_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
