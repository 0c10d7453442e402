from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fangkong.lib import crypto
from fangkong.lib.sheets.job import JobStatus, SheetJob



class LoginThrottle(models.Model):
    """No longer used (sign-in limits are counters in the shared cache: accounts/actions.py);
    kept until a migration of its own drops the table."""

    key = models.CharField(max_length=32, unique=True)
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class ResidentLink(models.Model):
    """A resident's personal link (DESIGN.md §2: "self, personal signed link, no password").

    The link carries a random token; only its SHA-256 is stored, so a copy of the
    database does not hold working links. Issuing a new link for a person revokes the old
    ones; a link expires, and can be revoked by staff at any time."""

    person = models.ForeignKey("residents.Person", on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["person", "revoked_at"])]


class StaffProfile(models.Model):
    """What an account of the staff has beyond Django's user: the place it was created
    under (who may see and manage it) and its phone number, personal data stored like a
    resident's: encrypted, with a blind index for exact search, shown masked."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    home_place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="+", verbose_name=_("place"))
    home_path = models.CharField(max_length=255, db_index=True, editable=False)
    phone_enc = models.BinaryField(null=True, editable=False)
    phone_bidx = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    # Re-encrypted and re-indexed by `fangkong rotate-keys` (fangkong.lib.crypto).
    ENCRYPTED = (crypto.Encrypted("phone_enc", index="phone_bidx", kind="phone"),)
    phone_masked = models.CharField(max_length=20, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # The open items (to-dos) the person had when deactivated, listed for reassignment.
    open_items = models.JSONField(default=list, blank=True)

    SCOPE_PATH = "home_path"

    class Meta:
        ordering = ["user__first_name", "pk"]
        constraints = [  # one account per phone number (accounts made by the command have none)
            models.UniqueConstraint(fields=["phone_bidx"], condition=~models.Q(phone_bidx=""), name="staff_phone_once")]


class SignInLink(models.Model):
    """A one-time sign-in link (first sign-in or reset): it sets a password once, then is
    spent. Only the SHA-256 of its token is stored (as ResidentLink)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signin_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


class DelegationRule(models.Model):
    """The admin's override of the delegation table in code (accounts.permissions.DELEGATION):
    the roles a holder of `granter_role` may grant inside its own scope."""

    granter_role = models.CharField(max_length=20, unique=True)
    roles = models.JSONField(default=list)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)


class OnboardingJob(SheetJob):
    """A staff list (XLSX/CSV) onboarded: accounts created and roles granted row by row."""

    Status = JobStatus

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_count = models.PositiveIntegerField(default=0)
    granted_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)

    class Meta(SheetJob.Meta):
        pass


class OnboardingRow(models.Model):
    """One row's outcome: an error (user empty) or the account it named (for the QR sheet)."""

    job = models.ForeignKey(OnboardingJob, on_delete=models.CASCADE, related_name="rows")
    row = models.PositiveIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=12)  # created / granted / held / duplicate / error
    column = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["row", "id"]
