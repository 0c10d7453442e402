"""fangkong import-residents FILE --place CODE --user USERNAME [--map 3=phone ...]

Imports residents from CSV/XLSX with a progress bar, as USERNAME (whose grants decide
what may be written), and writes the row errors to FILE.errors.csv (on --resume, beside
the uploads: $FANGKONG_VAR/imports/importjob-JOB_ID.errors.csv). Resumable: run it again
with --resume JOB_ID after a crash."""
import csv
import os
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from fangkong.audit.actions import set_context
from fangkong.lib.sheets.job import error_file
from fangkong.places.access import get_in_scope, require
from fangkong.places.models import Place
from fangkong.lib.workflow import Conflict, Invalid
from fangkong.residents import importing
from fangkong.residents.models import ImportJob


class Command(BaseCommand):
    help = "Import residents from a CSV or XLSX file (Chinese headers are recognized)."

    def _progress(self, job):
        """The progress as rows are read: a bar on a terminal, else a line every 10 %."""
        if self.stdout.isatty():
            bar = tqdm(total=job.total_rows or None, unit="rows", desc="import")

            def progress(done, total):
                if total and bar.total != total:
                    bar.total = total
                bar.n = done
                bar.refresh()

            self._close = bar.close
            return progress
        shown = [-1]

        def progress(done, total):
            tenth = 10 * done // total if total else 0
            if tenth > shown[0]:
                shown[0] = tenth
                self.stdout.write(f"import: {10 * tenth}% ({done} of {total} rows read)")

        self._close = lambda: None
        return progress

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?")
        parser.add_argument("--place", help="code of the default place (community, grid...) for rows without a grid")
        parser.add_argument("--user", required=True, help="the account the import runs as")
        parser.add_argument("--map", action="append", default=[], metavar="COL=FIELD",
                            help="override the detected mapping: column number (0-based) = field, or COL= to ignore")
        parser.add_argument("--resume", type=int, metavar="JOB_ID", help="resume an interrupted import job")

    def handle(self, *args, file, place, user, map, resume, **opts):
        set_context(ip="cli")
        try:
            acting = get_user_model().objects.get(username=user, is_active=True)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no active user {user!r}") from None
        try:
            require(acting, "residents.import")
        except Exception:
            raise CommandError(f"user {user!r} may not import residents") from None
        if resume:
            try:
                job = get_in_scope(ImportJob.objects.all(), acting, "residents.import", pk=resume)
            except Exception:
                raise CommandError(f"no import job {resume} in {user}'s scope") from None
            try:
                job = importing.resume_import(acting_user=acting, job=job, enqueue=False)
            except Conflict as exc:
                raise CommandError(f"import job {resume}: {exc}") from None
        else:
            if not file or not place:
                raise CommandError("FILE and --place are required (or --resume JOB_ID)")
            src = Path(file)
            if not src.is_file():
                raise CommandError(f"no such file: {file}")
            try:
                target = get_in_scope(Place.objects.all(), acting, "residents.import", code=place)
            except Exception:
                raise CommandError(f"place {place!r} does not exist or is outside {user}'s jurisdiction") from None
            settings.IMPORT_DIR.mkdir(parents=True, exist_ok=True)
            stored = settings.IMPORT_DIR / f"{uuid.uuid4().hex}{src.suffix.lower()[:8]}"
            shutil.copyfile(src, stored)
            try:
                job = importing.create_job(acting_user=acting, place=target, stored_path=stored, file_name=src.name)
            except importing.ImportFileError as exc:
                stored.unlink(missing_ok=True)
                raise CommandError(str(exc)) from None
            mapping = dict(job.mapping)
            for item in map:
                col, _, field = item.partition("=")
                if not col.isdigit():
                    raise CommandError(f"--map {item!r}: expected COLUMN=FIELD")
                if field:
                    mapping[col] = field
                else:
                    mapping.pop(col, None)
            for i, header in enumerate(job.headers):
                self.stdout.write(f"  column {i} {header!r:>12} -> {mapping.get(str(i), '(ignored)')}")
            try:
                job = importing.start_import(acting_user=acting, job=job, mapping=mapping, enqueue=False)
            except Invalid as exc:
                raise CommandError("; ".join(str(p) for p in exc.errors["mapping"])) from None
            self.stdout.write(f"import job {job.pk}")

        job = importing.run_import(job, acting_user=acting, progress=self._progress(job))
        self._close()
        if job.status == ImportJob.Status.FAILED:
            raise CommandError(job.message)
        self.stdout.write(f"done: {job.created_count} new, {job.updated_count} updated, "
                          f"{job.unchanged_count} unchanged, {job.error_count} rows with errors")
        if job.error_count:
            # Next to the imported file; on --resume, next to the job (beside the uploads,
            # deleted with its row errors), never in the current directory.
            out = Path(file).with_suffix(".errors.csv") if file else error_file(job)
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", newline="", encoding="utf-8-sig") as fh:
                csv.writer(fh).writerows(importing.error_report_rows(job))
            self.stdout.write(f"row errors written to {out}")
