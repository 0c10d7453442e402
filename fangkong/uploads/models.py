"""An attachment: one file in the private storage (settings.STORAGES["private"]), owned by
one record of another module.

Deletion. A file never outlives its row: removing an attachment from its record
(`actions.detach`) marks the row removed and deletes its files, and deleting rows (one, a
queryset, or `actions.detach_all`) deletes theirs (the post_delete receiver below); both once
the transaction commits (on rollback the files stay with the rows). An owner's module calls `actions.detach_all(owner=...)` in the action that deletes
the owner. Owners deleted behind the modules' back (bulk queryset deletes, retention purges,
raw SQL) are caught by the daily sweep (`tasks.sweep`, `actions.sweep_orphans`): a periodic
task rather than a post_delete receiver per owner model, because a receiver on the owners
would turn their fast bulk deletes into a query per row and still miss raw SQL; the sweep
also removes files whose row was never committed (an upload whose transaction rolled back).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _


def private_storage():
    from django.core.files.storage import storages

    return storages["private"]


class Attachment(models.Model):
    class Kind(models.TextChoices):
        PHOTO = "photo", _("Photo")
        DOCUMENT = "document", _("Document")

    owner_type = models.CharField(max_length=100)  # "app_label.model" (uploads.owners)
    owner_id = models.BigIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=120)  # the sanitised original name (shown and sent as filename)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()  # bytes stored (after re-encoding)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    # Random, never derived from the user's file name; the thumbnail (photos) beside it.
    storage_name = models.CharField(max_length=100, unique=True, editable=False)
    thumb_name = models.CharField(max_length=100, blank=True, editable=False)
    sha256 = models.CharField(max_length=64, editable=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # The owner's scope when attached, so lists of attachments filter like their owners.
    place_path = models.CharField(max_length=255, blank=True, db_index=True, editable=False)
    org_id = models.BigIntegerField(null=True, blank=True, editable=False)
    # Removed from its record (actions.detach): the files are gone, the row stays as the
    # trace of what was there (name, sha256, who, when) until the owner itself is deleted.
    removed_at = models.DateTimeField(null=True, blank=True, editable=False)

    SCOPE_PATH = "place_path"
    SCOPE_ORG = "org_id"

    class Meta:
        indexes = [models.Index(fields=["owner_type", "owner_id"], name="uploads_owner_idx")]
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    def files(self) -> list[str]:
        return [n for n in (self.storage_name, self.thumb_name) if n]


def remove_files(names) -> None:
    storage = private_storage()
    for name in names:
        storage.delete(name)


@receiver(post_delete, sender=Attachment, dispatch_uid="uploads_remove_files")
def _remove_files_on_commit(sender, instance, **kwargs):
    names = instance.files()
    transaction.on_commit(lambda: remove_files(names))
