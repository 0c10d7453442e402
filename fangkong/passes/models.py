"""Health passes (M6). The signing keys of pass tokens live here; the private half is kept
encrypted with the platform's data key (fangkong.lib.crypto)."""
from __future__ import annotations

from django.db import models


class SigningKey(models.Model):
    """An Ed25519 key pair for pass tokens. One key is active (signs); older keys still
    verify until they are revoked (a compromised key), so rotation breaks no printed card
    before it expires."""

    kid = models.CharField(max_length=16, unique=True)
    public_key = models.BinaryField()  # raw 32 bytes
    private_key_enc = models.BinaryField()  # AES-GCM of the raw 32-byte private key (hex)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["active"], condition=models.Q(active=True), name="one_active_signing_key")]
