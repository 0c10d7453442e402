"""What every job over an uploaded list keeps (an abstract model: no table of its own):
the stored file, how far it has been read (the progress and the resume cursor), its
errors and its message. The resident import and the staff onboarding extend it."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Waiting for confirmation")  # a job whose columns are confirmed before it starts
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class SheetJob(models.Model):
    """Scoped by the place it writes under (place_path, set by the job's module)."""

    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    file_name = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500)
    file_format = models.CharField(max_length=8)  # csv / xlsx
    encoding = models.CharField(max_length=16, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)  # rows committed: the resume cursor
    error_count = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    SCOPE_PATH = "place_path"

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0
