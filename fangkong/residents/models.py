"""Resident registry (M2): households and persons.

National ID and phone are stored only encrypted (`*_enc`), with a blind index (`*_bidx`)
for exact search and a masked form (`*_masked`) for display. The unique index on
`id_bidx` makes "one person per ID" hold even under concurrent writes.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.lib import crypto
from fangkong.lib.sheets.job import JobStatus, SheetJob
from fangkong.places.models import Organization, Place


class Household(models.Model):
    class Tenure(models.TextChoices):
        OWNED = "owned", _("Owned")
        RENTED = "rented", _("Rented")
        OTHER = "other", _("Other")

    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="households", verbose_name=_("place"))
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    address = models.CharField(_("address"), max_length=200)
    tenure = models.CharField(_("tenure"), max_length=10, choices=Tenure.choices, default=Tenure.OWNED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["address", "id"]
        verbose_name = _("household")
        constraints = [models.UniqueConstraint(fields=["place", "address"], name="household_unique_address")]

    def __str__(self):
        return self.address


TAGS = [
    ("elderly_alone", _("Elderly living alone")),
    ("tenant", _("Tenant")),
    ("floating", _("Floating population")),
    ("hardship", _("Hardship")),
    ("disabled", _("Disabled")),
    ("chronic", _("Chronic illness")),
]
TAG_KEYS = [k for k, _ in TAGS]


class Person(models.Model):
    class Sex(models.TextChoices):
        MALE = "M", _("Male")
        FEMALE = "F", _("Female")

    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="members", verbose_name=_("household")
    )
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="persons", verbose_name=_("place"))
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    name = models.CharField(_("name"), max_length=50, db_index=True)
    id_enc = models.BinaryField(editable=False)
    id_bidx = models.CharField(max_length=32, unique=True, editable=False)
    id_masked = models.CharField(max_length=18, editable=False)
    phone_enc = models.BinaryField(null=True, editable=False)
    phone_bidx = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    # Re-encrypted and re-indexed by `fangkong rotate-keys` (fangkong.lib.crypto).
    ENCRYPTED = (crypto.Encrypted("id_enc", index="id_bidx", kind="id"),
                 crypto.Encrypted("phone_enc", index="phone_bidx", kind="phone"))
    phone_masked = models.CharField(max_length=20, blank=True, editable=False)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    birth_date = models.DateField(_("birth date"))
    employer = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="staff", verbose_name=_("employer")
    )
    # Tags as ",tag1,tag2," so one portable LIKE finds a tag on SQLite and PostgreSQL.
    tags = models.CharField(_("tags"), max_length=200, blank=True, default="")
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "employer_id"

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("person")

    def __str__(self):
        return f"{self.name} ({self.id_masked})"

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split(",") if t]

    def tag_labels(self) -> list[str]:
        labels = dict(TAGS)
        return [str(labels.get(t, t)) for t in self.tag_list]

    def id_number(self) -> str:
        """Plain ID; only for the unmask action and authorized exports."""
        return crypto.decrypt(self.id_enc)

    def phone(self) -> str:
        return crypto.decrypt(self.phone_enc)


class ImportJob(SheetJob):
    Status = JobStatus

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    place = models.ForeignKey(Place, on_delete=models.PROTECT, verbose_name=_("default place"))
    headers = models.JSONField(default=list)
    # The row of the headers: 1, or lower when titles (often merged cells) stand above them.
    header_row = models.PositiveSmallIntegerField(default=1)
    mapping = models.JSONField(default=dict)  # column index (str) -> field
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)

    class Meta(SheetJob.Meta):
        pass


class ImportRowError(models.Model):
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="errors")
    row = models.PositiveIntegerField()
    column = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["row", "id"]


class ImportSeen(models.Model):
    """IDs seen by a running import, to find duplicates inside one file without holding
    them in memory. Rows are deleted when the job finishes."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE)
    id_bidx = models.CharField(max_length=32)
    row = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "id_bidx"], name="importseen_unique")]


class Transfer(models.Model):
    """A request to take over a person registered in another jurisdiction (moved, or
    returning to another community): the requester names the person by ID number and name
    and the household they go to; the committee where the person is registered accepts
    (the person moves into the requester's household) or declines, with reasons.

    Scoped by `from_path` (the person's place when requested: the owners decide) for
    `residents.transfer`; the requester's side sees its own requests by `to_path`. The
    requester never sees the person's record until the request is accepted: a request for
    an unregistered number and one for another community's person look the same to it.
    `purpose` names a follow-up registered by another module (e.g. an inflow application
    waiting for its person), called when the request is decided."""

    class State(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers")
    from_path = models.CharField(max_length=255, db_index=True, editable=False)
    to_place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+", verbose_name=_("destination"))
    to_path = models.CharField(max_length=255, db_index=True, editable=False)
    address = models.CharField(_("address"), max_length=200)
    employer = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    typed_name = models.CharField(_("name given"), max_length=50)
    id_masked = models.CharField(max_length=18, editable=False)
    reason = models.CharField(_("reason"), max_length=300)
    purpose = models.CharField(max_length=40, blank=True)  # a follow-up's key, e.g. "inflow"
    state = models.CharField(max_length=10, choices=State.choices, default=State.REQUESTED, db_index=True)
    version = models.PositiveIntegerField(default=1)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(_("reason of the decision"), max_length=300, blank=True)

    SCOPE_PATH = "from_path"

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("transfer request")

    def __str__(self):
        return f"{self.typed_name} ({self.id_masked})"


class OutgoingTransfer(Transfer):
    """The requester's side of a transfer request: scoped by its destination (and, for a
    unit's request, by the unit), where `Transfer` is scoped by the person's place."""

    SCOPE_PATH = "to_path"
    SCOPE_ORG = "employer_id"

    class Meta:
        proxy = True
        verbose_name = _("transfer request (sent)")
