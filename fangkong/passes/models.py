"""Health passes (M6). The signing keys of pass tokens live here; the private half is kept
encrypted with the platform's data key (fangkong.lib.crypto)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.lib import crypto
from fangkong.lib.identity import mask_name


class SigningKey(models.Model):
    """An Ed25519 key pair for pass tokens. One key is active (signs); older keys still
    verify until they are revoked (a compromised key), so rotation breaks no printed card
    before it expires."""

    kid = models.CharField(max_length=16, unique=True)
    public_key = models.BinaryField()  # raw 32 bytes
    private_key_enc = models.BinaryField()  # AES-GCM of the raw 32-byte private key (hex)
    # Re-encrypted and re-indexed by `fangkong rotate-keys` (fangkong.lib.crypto).
    ENCRYPTED = (crypto.Encrypted("private_key_enc", aad_field="kid"),)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["active"], condition=models.Q(active=True), name="one_active_signing_key")]


class Pass(models.Model):
    """A health pass (健康通行卡) of a resident, a temporary pass (临时通行证) of a visitor, or
    a vehicle pass. Its colour is never stored: it is derived when a token is signed
    (fangkong.passes.colours). Its place (the resident's household place, the visitor's host
    household, the vehicle's compound) decides who sees it."""

    class Kind(models.TextChoices):
        RESIDENT = "resident", _("Resident")
        VISITOR = "visitor", _("Visitor")
        VEHICLE = "vehicle", _("Vehicle")

    class State(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("pass", "Active")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    serial = models.CharField(max_length=32, unique=True, null=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE, db_index=True)
    person = models.ForeignKey("residents.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="passes")
    # Visitor (no registry entry): name, phone encrypted with blind index and masked form.
    visitor_name = models.CharField(max_length=50, blank=True)
    visitor_phone_enc = models.BinaryField(null=True, editable=False)
    visitor_phone_bidx = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    # Re-encrypted and re-indexed by `fangkong rotate-keys` (fangkong.lib.crypto).
    ENCRYPTED = (crypto.Encrypted("visitor_phone_enc", index="visitor_phone_bidx", kind="phone"),)
    visitor_phone_masked = models.CharField(max_length=20, blank=True, editable=False)
    reason = models.CharField(max_length=200, blank=True)
    host_household = models.ForeignKey("residents.Household", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="visitor_passes")
    # Vehicle: the normalized plate (plates.normalize_plate) and its owner, if registered.
    plate = models.CharField(max_length=8, blank=True, db_index=True)
    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="passes")
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(db_index=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    issuer_name = models.CharField(max_length=100, blank=True)  # the committee that issued it, printed on the card
    revoke_reason = models.CharField(max_length=200, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("pass")
        constraints = [
            models.UniqueConstraint(fields=["person"], condition=models.Q(state="active", kind="resident"),
                                    name="pass_one_active_resident_pass"),
            models.UniqueConstraint(fields=["plate"], condition=models.Q(state="active", kind="vehicle"),
                                    name="pass_one_active_vehicle_pass"),
        ]

    def __str__(self):
        return f"{self.serial or self.pk} {self.masked}"

    @property
    def holder_name(self) -> str:
        if self.kind == self.Kind.RESIDENT and self.person_id:
            return self.person.name
        if self.kind == self.Kind.VISITOR:
            return self.visitor_name
        return self.person.name if self.person_id else ""

    @property
    def masked(self) -> str:
        """What a guard sees: masked name (季*明) or masked plate (鲁E·***45)."""
        from .plates import mask_plate

        if self.kind == self.Kind.VEHICLE:
            return mask_plate(self.plate)
        return mask_name(self.holder_name)

    def phone(self) -> str:
        return crypto.decrypt(self.visitor_phone_enc) if self.visitor_phone_enc else ""


class Override(models.Model):
    """A time-limited colour set by hand (a documented exception: test result, error in a
    record). Requested by one person, approved by another; only an approved, unexpired
    override changes the derived colour."""

    class State(models.TextChoices):
        REQUESTED = "requested", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        EXPIRED = "expired", _("Expired")

    class Colour(models.TextChoices):
        GREEN = "green", _("Green")
        YELLOW = "yellow", _("Yellow")
        RED = "red", _("Red")

    person = models.ForeignKey("residents.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="colour_overrides")
    pass_obj = models.ForeignKey(Pass, null=True, blank=True, on_delete=models.PROTECT, related_name="overrides",
                                 db_column="pass_id")
    colour = models.CharField(max_length=6, choices=Colour.choices)
    reason = models.CharField(max_length=200)
    hours = models.PositiveIntegerField()
    until = models.DateTimeField(null=True, blank=True, db_index=True)  # set on approval: approval + hours
    state = models.CharField(max_length=10, choices=State.choices, default=State.REQUESTED, db_index=True)
    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("colour override")
        constraints = [
            models.CheckConstraint(condition=models.Q(person__isnull=False) | models.Q(pass_obj__isnull=False),
                                   name="override_has_subject"),
            models.CheckConstraint(condition=models.Q(decided_by__isnull=True) | ~models.Q(decided_by=models.F("requested_by")),
                                   name="override_second_person"),
        ]

    @property
    def subject_masked(self) -> str:
        if self.person_id:
            return mask_name(self.person.name)
        return self.pass_obj.masked if self.pass_obj_id else ""
