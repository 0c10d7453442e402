from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """Who did what, when, from where, with which outcome. Never holds a raw ID or phone."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The actor's id, kept when the account is deleted (no database constraint, no
    # cascade: the table is append-only, see migration 0002); the name is looked up when
    # shown (actor_names), never copied here.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                             db_constraint=False)
    # Only for attempts without a signed-in account (empty otherwise).
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


def actor_names(events) -> dict[int, str]:
    """{user id: username} for the actors of `events` that still exist (one query)."""
    from django.contrib.auth import get_user_model

    ids = {e.user_id for e in events if e.user_id is not None}
    if not ids:
        return {}
    return dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
