"""Clinic pre-screening triage (预检分诊, M18).

A clinic (an Organization of kind clinic) has pre-screening posts at its gate. Every visitor
is a Visit: with or without a pass, found in the registry or not (a walk-in not in the
street's registry is recorded here, encrypted like the registry, and no Person is made).
A visit holds the temperature, symptoms, the census questionnaire's travel and contact
answers, and the route. A fever at a compound gate opens a Visit too (origin "gate",
waiting to be routed): one flow for every triage. Fever patients are tracked after routing
until an outcome (tested, admitted, released).

The CDC's upstream system pulls the daily export with an ExportToken the admin created for
it: only its hash is stored; it is revocable and every pull is audited.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.lib import crypto
from fangkong.places.models import Organization, Place

SYMPTOMS = [
    ("fever", _("Fever")),
    ("cough", _("Cough")),
    ("fatigue", _("Fatigue")),
    ("sore_throat", _("Sore throat")),
    ("short_breath", _("Shortness of breath")),
    ("diarrhea", _("Diarrhoea")),
    ("muscle_pain", _("Muscle ache")),
]

# The census questionnaire's questions where they match (census/standard.py keys).
HISTORY = [
    ("source_area", _("Been to the source area")),
    ("contact_source", _("Contact with people from the source area")),
    ("contact_confirmed", _("Contact with confirmed patients")),
    ("gathering", _("Large gatherings or crowded closed places")),
]


class Post(models.Model):
    """A pre-screening post at a clinic's gate (预检分诊点)."""

    clinic = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="clinic_posts")
    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=100)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)  # the clinic's place
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "clinic_id"

    class Meta:
        ordering = ["clinic__name", "name"]
        verbose_name = _("pre-screening post")
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="clinic_post_unique_name")]

    def __str__(self):
        return f"{self.clinic.name} · {self.name}"


class Visit(models.Model):
    class Origin(models.TextChoices):
        POST = "post", _("Clinic post")
        GATE = "gate", _("Fever at a gate")

    class Route(models.TextChoices):
        PENDING = "", _("Not yet routed")
        FEVER_CLINIC = "fever_clinic", _("Fever clinic")
        ISOLATION_WARD = "isolation_ward", _("Isolation ward")
        GENERAL = "general", _("General outpatient")
        HOME_OBSERVATION = "home_observation", _("Home with observation")
        SENT_AWAY = "sent_away", _("Sent away")
        CLEARED = "cleared", _("Cleared (re-measured normal)")

    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting to be routed")
        TRACKING = "tracking", _("Routed, outcome pending")
        TESTED = "tested", _("Tested, outcome pending")
        ADMITTED = "admitted", _("Admitted")
        RELEASED = "released", pgettext_lazy("clinic outcome", "Released")
        DONE = "done", _("Screened")

    client_id = models.UUIDField(unique=True)  # made by the screening device: a resend is stored once
    origin = models.CharField(max_length=4, choices=Origin.choices, default=Origin.POST)
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.PROTECT, related_name="visits")
    clinic = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+")  # clinic's place, or the gate
    place_path = models.CharField(max_length=255, editable=False)
    # No foreign key in the database (db_constraint=False, clinic/0003): gates_gateentry is
    # partitioned by month on PostgreSQL, and a foreign key to it would have to name a unique
    # key holding the partition key (id, occurred_at). The ORM's relation and its PROTECT
    # stay; the app never deletes gate entries (old months may only be DETACHed, and kept).
    gate_entry = models.OneToOneField("gates.GateEntry", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="clinic_visit", db_constraint=False)
    legacy_triage_id = models.BigIntegerField(null=True, blank=True, unique=True)  # gates.Triage migrated

    # Who: a person of the registry (in the screener's scope) or a walk-in recorded here only.
    person = models.ForeignKey("residents.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    pass_id = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(pgettext_lazy("of a person", "name"), max_length=50, blank=True)
    masked = models.CharField(max_length=50, blank=True)  # the name masked (gate: as the pass showed it)
    sex = models.CharField(max_length=1, blank=True)  # "M" / "F"
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    id_enc = models.BinaryField(null=True, editable=False)
    id_bidx = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    id_masked = models.CharField(max_length=18, blank=True, editable=False)
    phone_enc = models.BinaryField(null=True, editable=False)
    phone_bidx = models.CharField(max_length=32, blank=True, editable=False)
    phone_masked = models.CharField(max_length=20, blank=True, editable=False)
    address = models.CharField(max_length=200, blank=True)

    ENCRYPTED = (crypto.Encrypted("id_enc", index="id_bidx", kind="id"),
                 crypto.Encrypted("phone_enc", index="phone_bidx", kind="phone"))

    # What was found
    temperature = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    fever = models.BooleanField(default=False)
    symptoms = models.CharField(max_length=200, blank=True)  # ",cough,fatigue," (codes of SYMPTOMS)
    source_area = models.BooleanField(null=True, blank=True)
    contact_source = models.BooleanField(null=True, blank=True)
    contact_confirmed = models.BooleanField(null=True, blank=True)
    gathering = models.BooleanField(null=True, blank=True)
    history_note = models.CharField(max_length=200, blank=True)  # where from, whom met
    high_risk = models.BooleanField(default=False)  # any history answer yes
    route = models.CharField(max_length=20, choices=Route.choices, blank=True, default="")
    state = models.CharField(max_length=8, choices=State.choices, default=State.DONE)
    note = models.CharField(max_length=300, blank=True)
    observation_id = models.BigIntegerField(null=True, blank=True)  # started through the observation module
    observation_note = models.CharField(max_length=200, blank=True)

    occurred_at = models.DateTimeField()  # the visit (or the gate's fever)
    routed_at = models.DateTimeField(null=True, blank=True)
    routed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome_at = models.DateTimeField(null=True, blank=True)
    outcome_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome_note = models.CharField(max_length=300, blank=True)
    test_result = models.CharField(max_length=20, blank=True)  # "negative" / "positive" / "pending"

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "clinic_id"

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("pre-screening visit")
        indexes = [
            models.Index(fields=["place_path", "occurred_at"], name="clinic_visit_path_time"),
            models.Index(fields=["occurred_at", "place_path", "fever", "route"], name="clinic_visit_time_day"),
            models.Index(fields=["state", "place_path"], name="clinic_visit_state"),
        ]

    def __str__(self):
        return f"{self.masked or '—'} {self.temperature or ''} {self.route}"

    @property
    def symptom_list(self) -> list[str]:
        return [s for s in self.symptoms.split(",") if s]

    def symptom_labels(self) -> list[str]:
        labels = dict(SYMPTOMS)
        return [str(labels.get(s, s)) for s in self.symptom_list]

    def history_labels(self) -> list[str]:
        return [str(label) for key, label in HISTORY if getattr(self, key)]

    def id_number(self) -> str:
        """Plain ID; only for authorized (audited) exports."""
        return crypto.decrypt(self.id_enc) if self.id_enc else ""

    def phone(self) -> str:
        return crypto.decrypt(self.phone_enc) if self.phone_enc else ""

    @property
    def tracked(self) -> bool:
        return self.state in (self.State.TRACKING, self.State.TESTED)


class ExportToken(models.Model):
    """An API credential for one named upstream system (the CDC's), scoped to the daily
    export of the places under `place`. Only a hash of the secret is kept."""

    name = models.CharField(pgettext_lazy("of a thing", "name"), max_length=100)
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+")
    place_path = models.CharField(max_length=255, editable=False)
    prefix = models.CharField(max_length=12, unique=True)  # shown in lists, names the token
    secret_hash = models.CharField(max_length=64, editable=False)
    unmasked = models.BooleanField(default=False)  # the system receives full ID numbers and phones
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("export token")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"
