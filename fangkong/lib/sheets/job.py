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
    ABANDONED = "abandoned", _("Abandoned")  # not moved for IMPORT_ABANDON_HOURS: its file and temporary rows are gone


class SheetJob(models.Model):
    """Scoped by the place it writes under (place_path, set by the job's module)."""

    place_path = models.CharField(max_length=255, db_index=True, editable=False)
    file_name = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500)
    file_format = models.CharField(max_length=8)  # csv / xlsx
    encoding = models.CharField(max_length=16, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)  # rows committed: the resume cursor
    read_rows = models.PositiveIntegerField(default=0)  # rows read so far (ahead of the cursor): the progress shown
    error_count = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    SCOPE_PATH = "place_path"

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def shown_rows(self) -> int:
        """Rows read so far (stored ones included)."""
        return min(max(self.read_rows, self.processed_rows), self.total_rows or max(self.read_rows, self.processed_rows))

    @property
    def percent(self) -> int:
        """The progress of reading the file; 100 only once the job is done (its last rows
        are still being stored after they are read)."""
        if self.status == "done":
            return 100
        return min(int(100 * self.shown_rows / self.total_rows), 99) if self.total_rows else 0


# --- Retention: an uploaded list holds personal data (names, ID and phone numbers); its
# file is deleted when its job ends, and the row errors some time after. `stored_path` empty
# records that the file was removed (pages say so; a job without its file cannot run again).

def remove_file(job: SheetJob) -> bool:
    """Delete the job's uploaded file (only within IMPORT_DIR, where uploads are kept, or in
    the imports storage) and record it on the job. True when there was a file to forget."""
    from pathlib import Path

    from django.conf import settings

    from .store import delete

    if not job.stored_path:
        return False
    path = Path(job.stored_path)
    try:
        # A file in the imports storage (fangkong.lib.sheets.store), else one in IMPORT_DIR.
        if not delete(job.stored_path) and path.resolve().is_relative_to(Path(settings.IMPORT_DIR).resolve()):
            path.unlink(missing_ok=True)
    except OSError:
        pass  # gone already or unreadable: the record still says it was removed
    type(job).objects.filter(pk=job.pk).update(stored_path="")
    job.stored_path = ""
    return True


def error_file(job: SheetJob):
    """Where the command line writes a job's error report when it has no file of its own
    to put it next to: beside the uploads (IMPORT_DIR), removed with the row errors."""
    from django.conf import settings

    return settings.IMPORT_DIR / f"{job._meta.model_name}-{job.pk}.errors.csv"


UNFINISHED = (JobStatus.UPLOADED, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED)


def abandon_stalled(model, temporary_rows, now, *, hours: int, on_abandoned=None) -> int:
    """Mark abandoned every unfinished job of `model` (never confirmed, queued, running,
    or failed and resumable) that has not moved for `hours`: its uploaded file and its
    temporary rows (`temporary_rows(job_id)`: a queryset) are deleted, and
    on_abandoned(job) is called (the audit event). The status changes only if the job
    still has not moved (a runner that comes back first keeps it). Returns the count."""
    import datetime as dt

    from django.db import transaction
    from django.utils.translation import gettext

    cutoff = now - dt.timedelta(hours=hours)
    done = 0
    stalled = model.objects.filter(status__in=UNFINISHED, updated_at__lt=cutoff).order_by("pk")
    for pk in list(stalled.values_list("pk", flat=True)[:1000]):
        with transaction.atomic():
            if not stalled.filter(pk=pk).update(status=JobStatus.ABANDONED, updated_at=now, message=gettext(
                    "Abandoned: no progress for %(n)d hours; upload the file again.") % {"n": hours}):
                continue
            temporary_rows(pk).delete()
            job = model.objects.get(pk=pk)
            remove_file(job)
            if on_abandoned is not None:
                on_abandoned(job)
        done += 1
    return done


def retention_run(model, error_rows, *, abandoned_after_days: int = 1):
    """The retention rule of a job model (SheetJob subclass with `status`): the uploaded
    file of a job done, or of any job not moved for `abandoned_after_days` (failed, never
    confirmed, stalled), is deleted; the row errors (`error_rows()`: a queryset of the rows
    to delete, with a `job` foreign key) of a job done or failed go `health_days` after."""
    import datetime as dt

    from django.db.models import Exists, OuterRef, Q

    from fangkong.lib.registry import in_batches

    def run(now, *, health_days: int, link_days: int, dry_run: bool = False) -> dict[str, int]:
        files_qs = model.objects.exclude(stored_path="").filter(
            Q(status=JobStatus.DONE) | Q(updated_at__lt=now - dt.timedelta(days=abandoned_after_days)))

        def remove_files(ids):
            return sum(remove_file(job) for job in model.objects.filter(pk__in=ids).only("pk", "stored_path"))

        errors_qs = model.objects.filter(status__in=[JobStatus.DONE, JobStatus.FAILED],
                                         updated_at__lt=now - dt.timedelta(days=health_days)).filter(
            Exists(error_rows().filter(job=OuterRef("pk"))))

        def remove_errors(ids):
            error_rows().filter(job_id__in=ids).delete()
            for job in model.objects.filter(pk__in=ids).only("pk"):
                error_file(job).unlink(missing_ok=True)
            return len(ids)

        def ids(qs):
            return lambda: list(qs.order_by("pk").values_list("pk", flat=True)[:200])

        return {"files": in_batches(ids(files_qs), remove_files, dry_run=dry_run, count=files_qs.count),
                "errors": in_batches(ids(errors_qs), remove_errors, dry_run=dry_run, count=errors_qs.count)}

    return run
