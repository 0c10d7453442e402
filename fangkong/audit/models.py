from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """Who did what, when, from where, with which outcome. Never holds a raw ID or phone."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150, blank=True)
    roles = models.CharField(max_length=200, blank=True)
    ip = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, default="ok")
    detail = models.JSONField(default=dict, blank=True)
    # Place path of the object, so a commander sees the audit of their own subtree only.
    place_path = models.CharField(max_length=255, blank=True, db_index=True)

    SCOPE_PATH = "place_path"

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit event")
