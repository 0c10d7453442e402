"""Resident import from CSV (UTF-8 or GBK/GB18030) and XLSX with Chinese headers.

Streaming: rows are read one at a time (fangkong.lib.sheets) and written in batches;
memory does not grow with the file. Each batch is one transaction that also advances the
job's cursor (`processed_rows`), so a crash loses nothing and a resumed job neither skips
nor repeats a row. Idempotent on the ID number: a row whose person already exists with
the same data changes nothing. Duplicates inside one file are found through ImportSeen
(on disk, not in memory).

Speed (DESIGN.md §5, W1/W2): new persons, households and ImportSeen rows are written with
one multi-row statement per table and batch (COPY on PostgreSQL) instead of through model
instances, validation results that depend only on the cell text (tags) are cached per job,
and blind indexes are computed once per row.

    fields.py    the fields of a resident list, their header aliases, the tenure words
    rows.py      first stage: a row read, validated, encrypted (no database)
    prefetch.py  the first stage ahead of the writer, in a thread or a forked process
    writer.py    second stage: a batch resolved and written in one transaction
    jobs.py      a job run to its end (run_import), its error report
    actions.py   the named actions: create_job, start_import, resume_import, abandon_stalled
"""
from .actions import abandon_stalled, can_resume, create_job, resume_import, start_import
from .fields import BATCH, FIELDS, HEADER_ALIASES, REQUIRED, ImportFileError, auto_mapping, check_mapping
from .jobs import error_report_rows, run_import

__all__ = [
    "abandon_stalled", "BATCH", "FIELDS", "HEADER_ALIASES", "REQUIRED", "ImportFileError", "auto_mapping", "can_resume",
    "check_mapping", "create_job", "error_report_rows", "resume_import", "run_import", "start_import",
]
