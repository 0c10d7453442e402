"""Self-declaration beside grid watch (M7, 自我申报 + 网格盯防) and the personal credit
record (个人诚信档案), from seed 003: residents declare their health, travel and contacts on
a public phone page reached by their community's QR code; grid workers verify each
declaration; a declaration found false, or a risk left undeclared that grid watch found and
the committee confirmed, becomes a credit-record entry with its evidence. The person sees
their entries through their personal link and may appeal; the committee decides.

ID and phone numbers are stored like the registry's: encrypted, blind-indexed, masked.
Every row carries the place path that scopes it (the matched person's place, or the
community while a declaration is unmatched).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.lib import crypto
from fangkong.places.models import Place
from fangkong.residents.models import Person


class Point(models.Model):
    """A community's declaration entry point: the unguessable code in its QR code."""

    place = models.OneToOneField(Place, on_delete=models.PROTECT, related_name="+", verbose_name=_("community"))
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    code = models.CharField(max_length=40, unique=True, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["place__name", "id"]

    def __str__(self):
        return self.place.name


SYMPTOMS = [
    ("fever", _("Fever")),
    ("cough", _("Cough")),
    ("fatigue", _("Fatigue")),
    ("sore_throat", _("Sore throat")),
    ("breathing", _("Shortness of breath")),
    ("diarrhea", _("Diarrhoea")),
    ("taste_smell", _("Loss of taste or smell")),
]
SYMPTOM_KEYS = [k for k, _label in SYMPTOMS]


class Declaration(models.Model):
    class State(models.TextChoices):
        SUBMITTED = "submitted", _("To verify")
        FOLLOW_UP = "follow_up", _("Needs follow-up")
        VERIFIED = "verified", _("Verified true")
        FOUND_FALSE = "found_false", _("Found false")

    point = models.ForeignKey(Point, on_delete=models.PROTECT, related_name="declarations")
    community = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="declarations")
    # The matched person's place (household), else the community: the declaration's scope.
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    serial = models.CharField(max_length=20, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=50)
    name_matches = models.BooleanField(default=True)  # the registry's name for the ID (when matched)
    id_enc = models.BinaryField(editable=False)
    id_bidx = models.CharField(max_length=32, db_index=True, editable=False)
    id_masked = models.CharField(max_length=18, editable=False)
    phone_enc = models.BinaryField(editable=False)
    phone_bidx = models.CharField(max_length=32, db_index=True, editable=False)
    # Re-encrypted and re-indexed by `fangkong rotate-keys` (fangkong.lib.crypto).
    ENCRYPTED = (crypto.Encrypted("id_enc", index="id_bidx", kind="id"),
                 crypto.Encrypted("phone_enc", index="phone_bidx", kind="phone"))
    phone_masked = models.CharField(max_length=20, editable=False)
    address = models.CharField(_("address"), max_length=200)
    temperature = models.DecimalField(_("temperature"), max_digits=3, decimal_places=1, null=True, blank=True)
    symptoms = models.CharField(_("symptoms"), max_length=200, blank=True)  # ",fever,cough,"
    travel = models.JSONField(default=list, blank=True)  # [{"place": str, "from": "YYYY-MM-DD", "to": ...}]
    risk_area = models.BooleanField(_("been to a risk area"), default=False)
    contact_case = models.BooleanField(_("contact with confirmed or suspected cases"), default=False)
    contact_risk_area = models.BooleanField(_("contact with people from risk areas"), default=False)
    note = models.CharField(_("note"), max_length=300, blank=True)
    risk = models.BooleanField(default=False, db_index=True)
    submitted_at = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.SUBMITTED, db_index=True)
    version = models.PositiveIntegerField(default=1)
    checked_at = models.DateTimeField(null=True, blank=True)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    check_note = models.CharField(_("evidence or note"), max_length=1000, blank=True)
    client_key = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    client_hash = models.CharField(max_length=32, blank=True, db_index=True, editable=False)  # rate limit, keyed hash of the IP

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-submitted_at", "-id"]

    def __str__(self):
        return self.serial

    @property
    def symptom_list(self) -> list[str]:
        return [s for s in self.symptoms.split(",") if s]

    def symptom_labels(self) -> list[str]:
        labels = dict(SYMPTOMS)
        return [str(labels.get(s, s)) for s in self.symptom_list]

    @property
    def name_masked(self) -> str:
        return (self.name[:1] + "*" * max(1, len(self.name) - 1))[:50]

    def id_number(self) -> str:
        return crypto.decrypt(self.id_enc)


class _Scoped(models.Model):
    """A record of the person's place: scoped by its path (the access module's SCOPE_PATH)."""

    place_path = models.CharField(max_length=255, db_index=True, editable=False)

    SCOPE_PATH = "place_path"

    class Meta:
        abstract = True


class _Decided(_Scoped):
    """A record the committee decides: its state changes by version (apply_transition),
    with who decided and when."""

    version = models.PositiveIntegerField(default=1)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        abstract = True


class Finding(_Decided):
    """Grid watch (网格盯防): a risk a person in the grid left undeclared, with the evidence.
    The committee confirms it (it then becomes a credit entry) or dismisses it."""

    class Kind(models.TextChoices):
        TRAVEL = "travel", _("Undeclared travel to a risk area")
        CONTACT = "contact", _("Undeclared contact with cases or people from risk areas")
        SYMPTOMS = "symptoms", _("Undeclared symptoms")
        FALSE = "false_info", _("False information")

    class State(models.TextChoices):
        RECORDED = "recorded", _("To confirm")
        CONFIRMED = "confirmed", _("Confirmed")
        DISMISSED = "dismissed", _("Dismissed")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    evidence = models.CharField(_("evidence"), max_length=1000)
    found_on = models.DateField(_("found on"))
    recorded_at = models.DateTimeField(db_index=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECORDED, db_index=True)
    decision_note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]


class CreditEntry(_Scoped):
    """One entry of a person's credit record (个人诚信档案). A revoked entry stays, marked."""

    class Kind(models.TextChoices):
        FALSE_DECLARATION = "false_declaration", _("False declaration")
        UNDECLARED_RISK = "undeclared_risk", _("Undeclared risk")

    class State(models.TextChoices):
        ACTIVE = "active", _("In force")
        REVOKED = "revoked", pgettext_lazy("credit", "Revoked")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="credit_entries")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    reason = models.CharField(_("reason"), max_length=300)
    evidence = models.CharField(_("evidence"), max_length=1000)
    day = models.DateField(_("date"))
    created_at = models.DateTimeField(db_index=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    declaration = models.OneToOneField(Declaration, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_entry")
    finding = models.OneToOneField(Finding, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_entry")
    state = models.CharField(max_length=8, choices=State.choices, default=State.ACTIVE, db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def can_appeal(self) -> bool:
        """In force and no appeal awaiting a decision (uses prefetched appeals)."""
        return self.state == self.State.ACTIVE and not any(a.state == "open" for a in self.appeals.all())


class Appeal(_Decided):
    class State(models.TextChoices):
        OPEN = "open", _("Awaiting decision")
        UPHELD = "upheld", _("Entry upheld")
        REVOKED = "revoked", _("Entry revoked")

    entry = models.ForeignKey(CreditEntry, on_delete=models.PROTECT, related_name="appeals")
    text = models.CharField(_("appeal"), max_length=1000)
    filed_at = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN, db_index=True)
    decision_reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        ordering = ["-filed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["entry"], condition=Q(state="open"), name="credit_one_open_appeal")]
