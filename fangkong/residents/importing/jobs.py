"""An import job run to its end: the file's batches through the first stage (rows.py,
in a thread or process: prefetch.py) and the writer (writer.py), the job's status and
audit events, and its error report."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.audit.actions import record
from fangkong.lib.sheets import Table, store
from fangkong.lib.sheets.job import remove_file
from fangkong.places.access import scope_paths

from ..models import ImportJob, ImportSeen
from .fields import BATCH, ImportFileError
from .prefetch import start_reader
from .rows import Lookups
from .writer import CACHE_KIB, CHECKPOINT_PAGES, process_batch, sqlite_import_settings


def batch_rows() -> int:
    """Rows per write transaction: settings.IMPORT_BATCH_ROWS, else fields.BATCH."""
    from django.conf import settings

    return settings.IMPORT_BATCH_ROWS or BATCH


class WriteShare:
    """Keeps an import's write transactions to settings.IMPORT_WRITE_SHARE of its time
    while other connections use the same database: after a batch that took h seconds, if
    anyone else was at work meanwhile, wait h * (1 - share) / share before the next. An
    import alone runs at full speed.

    Why (bench W8, bench/RESULTS.md, 2026-12-07): at full speed a 1,000,000-row import
    took 60-97 % of SQLite's writer lock and the gate check-ins beside it fell to 45-85 of
    150 a second, p99 10-20 s; with a share of 0.3 they kept the pace. On PostgreSQL their
    p99 went from 75 ms to 42 ms.

    "Anyone else": on SQLite, another connection committed (PRAGMA data_version changed);
    on PostgreSQL, another client backend of this database changed state (ran a statement)
    since the last look (pg_stat_activity, live; reads count too, and the application's
    connections must share a role, or hold pg_read_all_stats, for their state to be seen).
    Not PostgreSQL's commit counts: a backend adds its own to them up to a second late, so
    an import alone in small batches would seem to have company."""

    sleep = staticmethod(time.sleep)
    clock = staticmethod(time.monotonic)

    # SQLite: while others use the database (seen within COMPANY_SECONDS), a batch is
    # written in transactions of SHARED_ROWS rows, each followed by its pause: a gate's
    # check-in waits at most for one of those, not for a batch of 20,000 rows (1-2 s).
    # So is the import's first part, which finds out whether anyone else is there.
    # Alone, the batches stay whole (short transactions cost more a row: bench W8). Not on
    # PostgreSQL, where the import's transactions hold no lock a check-in waits for.
    # Measured (W8, SQLite, 150 check-ins/s beside a 300,000-row import, 2026-12-07): the
    # gates' p99 99-158 ms with 50 rows (import ~950-990 rows/s), 224 ms with 200 rows
    # (1,650 rows/s); 929 ms with whole 20,000-row batches (the day before).
    SHARED_ROWS = 50
    COMPANY_SECONDS = 60.0

    def __init__(self, share: float | None = None):
        from django.conf import settings

        self.share = settings.IMPORT_WRITE_SHARE if share is None else share
        self.mark = None
        self.company_at: float | None = None  # when others were last seen at work
        self.probing = True  # nothing seen yet: the first part is short
        if self.share < 1:
            self.others()

    def parts(self, batch):
        """The batch in the parts to write, one transaction each: whole, or SHARED_ROWS
        rows at a time while others use a SQLite database (decided before each part)."""
        start = 0
        while True:
            short = self.sharing() or (self.probing and self.share < 1 and connection.vendor == "sqlite")
            part = batch.part(start, self.SHARED_ROWS if short else None)
            yield part
            start += len(part.rows)
            if start >= len(batch.rows):
                return

    def others(self) -> bool:
        """Whether another connection was at work since the last call."""
        with connection.cursor() as cur:
            if connection.vendor == "sqlite":
                cur.execute("PRAGMA data_version")
                mark = cur.fetchone()[0]
                busy = self.mark is not None and mark != self.mark
            elif connection.vendor == "postgresql":
                cur.execute("SELECT clock_timestamp(), (SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                            "AND backend_type = 'client backend' AND state_change >= %s)",
                            [self.mark or "infinity"])
                mark, seen = cur.fetchone()
                busy = self.mark is not None and seen > 0
            else:
                return False
        self.mark = mark
        return busy

    def sharing(self) -> bool:
        """Whether writes are to be cut short now: others were seen at work on this SQLite
        database within COMPANY_SECONDS."""
        return (self.share < 1 and connection.vendor == "sqlite" and self.company_at is not None
                and self.clock() - self.company_at < self.COMPANY_SECONDS)

    def after(self, held: float) -> float:
        """Called after each batch, with the seconds it took: waits if others were at work
        meanwhile. Returns the seconds waited."""
        self.probing = False
        if self.share >= 1 or not self.others():
            return 0.0
        self.company_at = self.clock()
        pause = held * (1.0 - self.share) / self.share
        self.sleep(pause)
        self.others()  # what others do during the pause is theirs to do
        return pause


def run_import(job: ImportJob, *, acting_user, progress: Callable[[int, int], None] | None = None,
               batch_size: int | None = None) -> ImportJob:
    """Run (or resume) an import job to the end. Safe to call again after a crash. Starting
    and resuming are the actions start_import and resume_import; this is their work. The
    file is read where it is kept, or from a local copy of it (fangkong.lib.sheets.store)."""
    batch_size = batch_size or batch_rows()
    with store.local_file(job.stored_path) as path:
        return _run_import(job, path, acting_user=acting_user, progress=progress, batch_size=batch_size)


def _run_import(job: ImportJob, path: Path, *, acting_user, progress, batch_size) -> ImportJob:
    paths = scope_paths(acting_user, "residents.import")  # where the import may write
    import_paths = [""] if paths is None else paths
    source = Table(path, job.file_format, job.encoding, header_row=job.header_row)
    headers = job.headers
    lookups = Lookups(job, headers)
    job.status = ImportJob.Status.RUNNING  # running from now: counting a large file takes a while
    job.save(update_fields=["status", "updated_at"])
    try:
        if job.total_rows == 0:
            job.total_rows = source.count_rows()
            job.save(update_fields=["total_rows", "updated_at"])
    except ImportFileError as exc:
        return _failed(job, acting_user, exc)
    if job.processed_rows == 0:
        record(acting_user, "residents.import.start", obj=job, detail={"file": job.file_name, "rows": job.total_rows})
    skip = job.processed_rows
    report = _Progress(job, skip, progress)
    batches = lookups.reader = start_reader(source, skip, lookups, batch_size, job.total_rows - skip, report.read)
    try:
        with sqlite_import_settings(CHECKPOINT_PAGES, CACHE_KIB):
            share = WriteShare()
            for batch in batches:
                for part in share.parts(batch):
                    began = time.perf_counter()
                    process_batch(job, part, headers, lookups, import_paths)
                    report.stored(part.size)
                    share.after(time.perf_counter() - began)
    except ImportFileError as exc:
        return _failed(job, acting_user, exc)
    finally:
        batches.close()
    job.refresh_from_db()
    if progress:
        progress(job.processed_rows, job.processed_rows)
    if not (job.created_count or job.updated_count or job.unchanged_count or job.error_count):
        # Not one row with a value below the headers (blank or only styled rows).
        job.status, job.message = ImportJob.Status.FAILED, _("The file has column headers but no data rows")
        job.save(update_fields=["status", "message", "updated_at"])
        _forget_seen(job)
        remove_file(job)  # nothing to resume
        record(acting_user, "residents.import.finish", obj=job, outcome="failed", detail={"message": job.message})
        return job
    job.status = ImportJob.Status.DONE
    job.total_rows = job.processed_rows
    job.save(update_fields=["status", "total_rows", "updated_at"])
    _forget_seen(job, share)
    remove_file(job)  # the uploaded list holds personal data: gone once imported (a failed job keeps it to resume)
    record(acting_user, "residents.import.finish", obj=job, detail={
        "created": job.created_count, "updated": job.updated_count,
        "unchanged": job.unchanged_count, "errors": job.error_count,
    })
    return job


PROGRESS_SECONDS = 0.5  # the job's row is written at most this often while rows are read


class _Progress:
    """The job's progress as rows are read (read_rows, written at most every
    PROGRESS_SECONDS, with the heartbeat updated_at) and as batches are stored; `progress`
    (the command's bar) hears both."""

    def __init__(self, job: ImportJob, skip: int, progress):
        self.job, self.base, self.done, self.progress = job, skip, skip, progress
        self.rows, self.written_at = skip, 0.0

    def read(self, n: int) -> None:
        rows = self.base + n  # n: rows read by this run's reader, which started after `skip`
        if rows <= self.rows or time.monotonic() - self.written_at < PROGRESS_SECONDS:
            return
        self.rows, self.written_at = rows, time.monotonic()
        ImportJob.objects.filter(pk=self.job.pk, read_rows__lt=rows).update(read_rows=rows, updated_at=timezone.now())
        if self.progress:
            self.progress(rows, self.job.total_rows)

    def stored(self, size: int) -> None:
        self.done += size
        self.rows = max(self.rows, self.done)
        if self.progress:
            self.progress(self.rows, self.job.total_rows)


def _failed(job: ImportJob, acting_user, exc: Exception) -> ImportJob:
    """The file cannot be read (further): the job fails with the reason. A hostile
    workbook is refused for good; its file is removed (it would be refused again)."""
    job.refresh_from_db()
    job.status, job.message = ImportJob.Status.FAILED, str(exc)[:500]
    job.save(update_fields=["status", "message", "updated_at"])
    if getattr(exc, "final", False):
        _forget_seen(job)
        remove_file(job)
    record(acting_user, "residents.import.finish", obj=job, outcome="failed", detail={"message": job.message})
    return job


FORGET_ROWS = 250  # ImportSeen rows deleted a transaction while others use a SQLite database


def _forget_seen(job: ImportJob, share: WriteShare | None = None) -> None:
    """Delete the job's ImportSeen rows. When no other job has rows there, SQLite empties
    the table with a DELETE without WHERE, which drops its pages instead of visiting every
    row and index entry (the check and the delete share one write transaction). While
    others use a SQLite database (`share`), in transactions of FORGET_ROWS rows with the
    share's pauses instead: the whole delete held the writer lock 1.1 s after an import of
    300,000 rows, and a gate's check-in waited for it (bench W8, 2026-12-07)."""
    if share is not None and share.sharing():
        table = connection.ops.quote_name(ImportSeen._meta.db_table)
        while True:
            began = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE job_id = %s LIMIT %s)",
                               [job.pk, FORGET_ROWS])
                deleted = cursor.rowcount
            if deleted < FORGET_ROWS:
                return
            share.after(time.perf_counter() - began)
    with transaction.atomic():
        others = ImportSeen.objects.filter(job_id__lt=job.pk).exists() or ImportSeen.objects.filter(job_id__gt=job.pk).exists()
        if connection.vendor == "sqlite" and not others:
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(ImportSeen._meta.db_table)}")
        else:
            ImportSeen.objects.filter(job=job).delete()


def error_report_rows(job: ImportJob):
    yield [_("Row"), _("Column"), _("Reason")]
    for err in job.errors.all().iterator(chunk_size=2000):
        yield [err.row, err.column, err.reason]
