"""The import's named actions (DESIGN.md §3): upload a file (create_job), confirm its
columns and start it (start_import), resume it after a crash or stop (resume_import).
Views, the API and the import-residents command call these; running a job is
jobs.run_import, in the background task or in the command's own process."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.audit.actions import record
from fangkong.lib.sheets import Table, store
from fangkong.lib.workflow import Conflict, Invalid
from fangkong.places.models import Place

from ..models import ImportJob
from .fields import COLUMNS, auto_mapping, check_mapping

# A queued or running job whose row has not moved for this long has lost its runner (a
# batch takes seconds; the reading process is declared stuck after 10 minutes).
STALLED_AFTER = dt.timedelta(minutes=10)


def create_job(*, acting_user, place: Place, stored_path: Path, file_name: str) -> ImportJob:
    """Inspect an uploaded file and create a job waiting for mapping confirmation.
    Raises ImportFileError for a file that cannot be imported at all."""
    source = Table.open(stored_path, file_name)
    headers = source.sniff()  # a cheap look (at most the file's first rows): the file is read by the worker
    if not set(COLUMNS.required) <= set(auto_mapping(headers).values()):
        # Sheets from government templates carry title rows above the headers: the first of
        # the first ten rows naming every required field is the header row (looked for only
        # when row 1 is not it: a further look at the file's first rows).
        found = COLUMNS.find_header_row(source)
        if found and found != 1:
            source.header_row = found
            headers = source.sniff()
    with transaction.atomic():
        job = ImportJob.objects.create(
            created_by=acting_user, place=place, place_path=place.path, file_name=file_name[:255],
            stored_path=store.keep(stored_path), file_format=source.fmt, encoding=source.encoding, headers=headers,
            header_row=source.header_row,
            mapping=auto_mapping(headers),
        )
        record(acting_user, "residents.import.upload", obj=job, detail={"file": file_name[:100], "format": source.fmt})
    return job


def _enqueue(job: ImportJob, acting_user) -> None:
    from ..tasks import run_import_task

    transaction.on_commit(lambda: run_import_task(job.pk, acting_user.pk))


def start_import(*, acting_user, job: ImportJob, mapping: dict[str, str], enqueue: bool = True) -> ImportJob:
    """Confirm the columns of an uploaded job and queue it (the background task runs it
    after the commit; with enqueue=False the caller runs it, as the command does).
    Invalid({"mapping": [problems]}) for an unusable mapping, Conflict once started."""
    mapping = {str(k): v for k, v in mapping.items() if v}
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status == ImportJob.Status.ABANDONED:
            raise Conflict(_("This import was abandoned; upload the file again."))
        if locked.status != ImportJob.Status.UPLOADED:
            raise Conflict(_("This import has already been started."))
        if not locked.stored_path:
            raise Conflict(_("The uploaded file was removed; upload it again."))
        if _rotation_refusal():
            raise Conflict(_rotation_refusal())
        problems = check_mapping(mapping, locked.headers)
        if problems:
            raise Invalid({"mapping": problems})
        locked.mapping, locked.status = mapping, ImportJob.Status.QUEUED
        locked.save(update_fields=["mapping", "status", "updated_at"])
        record(acting_user, "residents.import.confirm", obj=locked, detail={"mapping": mapping})
        if enqueue:
            _enqueue(locked, acting_user)
    return locked


def _rotation_refusal():
    """While a key rotation is under way (old keys configured) imports wait: the writer
    matches persons by the current blind index only."""
    if settings.OLD_KEYS:
        return _("A key rotation is under way: imports wait until it has finished.")
    return None


def abandon_stalled(*, now=None) -> int:
    """Abandon the imports left unfinished that have not moved for IMPORT_ABANDON_HOURS:
    their uploaded files (names, ID and phone numbers) and temporary rows (ImportSeen)
    are deleted. Run hourly by the worker and by the daily retention sweep."""
    from django.conf import settings

    from fangkong.lib.sheets.job import abandon_stalled as abandon

    from ..models import ImportSeen

    def audit(job):
        record(None, "residents.import.abandon", obj=job, detail={"row": job.processed_rows})

    return abandon(ImportJob, lambda pk: ImportSeen.objects.filter(job_id=pk), now or timezone.now(),
                   hours=settings.IMPORT_ABANDON_HOURS, on_abandoned=audit)


def _resume_refusal(job: ImportJob):
    """Why resume_import refuses the job in its current state, or None."""
    if _rotation_refusal():
        return _rotation_refusal()
    if job.status == ImportJob.Status.DONE:
        return _("This import has already finished.")
    if job.status == ImportJob.Status.ABANDONED:
        return _("This import was abandoned; upload the file again.")
    if job.status == ImportJob.Status.UPLOADED:
        return _("This import has not been started: confirm its columns first.")
    if job.status != ImportJob.Status.FAILED and timezone.now() - job.updated_at < STALLED_AFTER:
        return _("This import is still running.")
    if not job.stored_path:
        return _("The uploaded file was removed; upload it again.")
    return None


def can_resume(job: ImportJob) -> bool:
    """Whether resume_import would accept the job now (for the page's button)."""
    return _resume_refusal(job) is None


def resume_import(*, acting_user, job: ImportJob, enqueue: bool = True) -> ImportJob:
    """Queue a started job again from its cursor: one that failed, or whose runner died
    (queued or running, but not moved for STALLED_AFTER). Conflict when it has finished,
    has not been started, or is still moving."""
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        refusal = _resume_refusal(locked)
        if refusal is not None:
            raise Conflict(refusal)
        status = locked.status
        locked.status, locked.message = ImportJob.Status.QUEUED, ""
        locked.save(update_fields=["status", "message", "updated_at"])
        record(acting_user, "residents.import.resume", obj=locked, detail={"from": status, "row": locked.processed_rows})
        if enqueue:
            _enqueue(locked, acting_user)
    return locked
