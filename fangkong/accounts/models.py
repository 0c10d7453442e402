from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _



class LoginThrottle(models.Model):
    """Failed sign-ins per username; locks the name out after too many in a row. The name
    is kept only as a keyed hash: people type ID or phone numbers into the name field."""

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
