"""The second stage of an import: a batch's places and employers resolved, existing
persons and households found, and the batch written in one transaction that also
advances the job's cursor. New rows go in with one multi-row statement per table (COPY on
PostgreSQL) instead of through model instances."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from itertools import chain
from operator import itemgetter

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from ..actions import phone_fields
from ..models import Household, ImportJob, ImportRowError, ImportSeen, Person
from .rows import Batch, resolve_row, row_clean, tags_text

# A new person's columns: first those the row gives (Row.values), then those the batch
# resolves. Checked against the model before every insert.
PERSON_COLUMNS = (
    "name", "id_enc", "id_bidx", "id_masked", "phone_enc", "phone_bidx", "phone_masked", "sex", "birth_date", "tags",
    "note", "version", "household_id", "place_id", "place_path", "employer_id", "created_at", "updated_at",
)
HOUSEHOLD_COLUMNS = ("place_id", "place_path", "address", "tenure", "created_at", "updated_at")


def _apply(person: Person, rec, household, mapped: set[str]) -> bool:
    """Set the fields this file carries on an existing person; True if anything changed.
    Columns the file does not have (or leaves empty, for place and address) keep the
    stored value, so a partial list never wipes data."""
    c = row_clean(rec)
    new = {"name": c["name"], "sex": c["sex"], "birth_date": c["birth_date"]}
    if "phone" in mapped:
        new["phone_bidx"] = rec.phone_bidx
    if "tags" in mapped:
        new["tags"] = tags_text(c)
    if "note" in mapped:
        new["note"] = c.get("note", "")
    if "employer" in mapped:
        new["employer_id"] = rec.employer.pk if rec.employer else None
    if rec.place_text:
        new["place_id"], new["place_path"] = rec.place.pk, rec.place.path
    if household is not None:
        new["household_id"] = household.pk
        new["place_id"], new["place_path"] = household.place_id, household.place_path
    changed = [k for k, v in new.items() if getattr(person, k) != v]
    if not changed:
        return False
    for k in changed:
        if k == "phone_bidx":
            for pk_, pv in phone_fields(c.get("phone", "")).items():
                setattr(person, pk_, pv)
        else:
            setattr(person, k, new[k])
    person.version += 1
    person.updated_at = timezone.now()
    return True


def process_batch(job: ImportJob, batch: Batch, headers, lookups, import_paths) -> None:
    """Second stage of a batch, in one transaction that also advances the job's cursor."""
    if lookups.reader is not None:
        lookups.reader.pause()
    try:
        _write_batch(job, batch, headers, lookups, import_paths)
    finally:
        if lookups.reader is not None:
            lookups.reader.resume()


def _write_batch(job: ImportJob, batch: Batch, headers, lookups, import_paths) -> None:
    records, errors, error_rows = [], [], set()
    first_row_of: dict[str, int] = {}
    id_col = _col(job, headers, "id_number")
    for r in batch.rows:
        errs = r.resolved if r.resolved is not None else resolve_row(r, lookups)
        rec = r
        if errs:
            errors.extend(errs)
            error_rows.add(r.row)
            continue
        bidx = rec.bidx
        if bidx in first_row_of:
            errors.append((r.row, id_col, _("Duplicate ID number in this file (first at row %(r)d)") % {"r": first_row_of[bidx]}))
            error_rows.add(r.row)
            continue
        first_row_of[bidx] = r.row
        records.append(rec)

    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        existing, seen = {}, {}
        found = _existing_ids(sorted(r.bidx for r in records))  # in index order: each probe lands near the last
        for bidxs in _chunks(found):
            existing.update((p.id_bidx, p) for p in Person.objects.filter(id_bidx__in=bidxs).order_by())
        # An ID this job has seen belongs to a person (ImportSeen rows are written in the
        # transaction that creates or matches the person, and persons are never deleted),
        # so only the IDs of existing persons can have been seen.
        for bidxs in _chunks(list(existing)):
            seen.update(ImportSeen.objects.filter(job=job, id_bidx__in=bidxs).values_list("id_bidx", "row"))
        keep = []
        for rec in records:
            earlier = seen.get(rec.bidx)
            if earlier is not None and earlier != rec.row:
                errors.append((rec.row, id_col, _("Duplicate ID number in this file (first at row %(r)d)") % {"r": earlier}))
                error_rows.add(rec.row)
                continue
            person = existing.get(rec.bidx)
            if person is not None and not any(person.place_path.startswith(p) for p in import_paths):
                errors.append((rec.row, id_col, _("This ID number is already registered outside your jurisdiction")))
                error_rows.add(rec.row)
                continue
            keep.append(rec)

        now = timezone.now()
        stamp = connection.ops.adapt_datetimefield_value(now)
        households = _households(keep, stamp, lookups)
        mapped = lookups.mapped
        new, changed, unchanged = [], [], 0
        for rec in keep:
            hh = households.get((rec.place.id, rec.address)) if rec.address else None
            person = existing.get(rec.bidx)
            if person is None:
                place, employer = rec.place, rec.employer
                new.append(rec.values + (hh.pk if hh else None, place.id, place.path,
                                            employer.id if employer else None, stamp, stamp))
            elif _apply(person, rec, hh, mapped):
                changed.append(person)
            else:
                unchanged += 1
        # In blind index order: the inserts into the unique indexes on id_bidx (persons and
        # ImportSeen) then walk each index once per batch instead of jumping around it.
        new.sort(key=itemgetter(2))
        with lookups.overlap():
            _insert(Person, PERSON_COLUMNS, new)
        if changed:
            Person.objects.bulk_update(changed, [
                "name", "sex", "birth_date", "tags", "note", "employer", "household", "place", "place_path",
                "phone_enc", "phone_bidx", "phone_masked", "version", "updated_at",
            ])
        seen_rows = sorted((job.pk, r.bidx, r.row) for r in keep if r.bidx not in seen)
        with lookups.overlap():
            _insert(ImportSeen, ("job_id", "id_bidx", "row"), seen_rows)
        ImportRowError.objects.bulk_create([ImportRowError(job=job, row=r, column=str(c)[:100], reason=str(m)[:300]) for r, c, m in errors])
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=F("processed_rows") + batch.size,
            read_rows=Greatest(F("read_rows"), F("processed_rows") + batch.size),
            created_count=F("created_count") + len(new),
            updated_count=F("updated_count") + len(changed),
            unchanged_count=F("unchanged_count") + unchanged,
            error_count=F("error_count") + len(error_rows),
            updated_at=now,  # the job's heartbeat: resume_import refuses a job that is still moving
        )
        if lookups.reader is not None:
            lookups.reader.resume()  # during the commit


def _col(job, headers, field) -> str:
    for k, f in job.mapping.items():
        if f == field:
            return headers[int(k)]
    return ""


def _insert(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert rows of column values (already in database form): COPY on PostgreSQL,
    multi-row INSERTs on SQLite. Much cheaper than bulk_create, which builds a model
    instance and compiles every value of every row; and each statement releases the GIL
    for all its rows at once (executemany, or a RETURNING clause, would take it back after
    every row)."""
    if not rows:
        return
    if set(columns) != {f.column for f in model._meta.concrete_fields if not f.primary_key}:
        raise RuntimeError(f"the importer's column list for {model.__name__} does not match the model")
    qn = connection.ops.quote_name
    table, names = qn(model._meta.db_table), ", ".join(qn(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        # The sqlite3 cursor itself, with its own "?" placeholders: Django's wrapper would
        # rewrite every "%s" of a statement that has thousands of them, for every chunk.
        raw = cursor.cursor
        while hasattr(raw, "cursor") and not isinstance(raw, sqlite3.Cursor):
            raw = raw.cursor
        one = f"({', '.join(['?'] * len(columns))})"
        statements: dict[int, str] = {}
        for chunk in _chunks(rows, len(columns)):
            sql = statements.get(len(chunk))
            if sql is None:
                sql = statements[len(chunk)] = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))}"
            raw.execute(sql, list(chain.from_iterable(chunk)))


class _Household:
    __slots__ = ("pk", "place_id", "place_path")

    def __init__(self, pk, place_id, place_path):
        self.pk, self.place_id, self.place_path = pk, place_id, place_path


def _households(records, stamp, lookups) -> dict:
    """Find or create the households named by (place, address) in this batch."""
    wanted = {(r.place.id, r.address): r for r in records if r.address}
    if not wanted:
        return {}
    found = _find_households(sorted(wanted))
    missing = [k for k in wanted if k not in found]
    if missing:
        rows = [(pid, wanted[pid, addr].place.path, addr, wanted[pid, addr].tenure, stamp, stamp) for pid, addr in missing]
        with lookups.overlap():
            _insert(Household, HOUSEHOLD_COLUMNS, rows)
        found.update(_find_households(missing))
    return found


def _find_households(keys: list[tuple[int, str]]) -> dict:
    """(place id, address) -> _Household, with one index probe per key (`place_id IN (...)
    AND address IN (...)` would probe every combination)."""
    table = connection.ops.quote_name(Household._meta.db_table)
    found = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(keys, 2):
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"SELECT id, place_id, place_path, address FROM {table} WHERE (place_id, address) IN "
                    f"(SELECT * FROM unnest(%s::bigint[], %s::varchar[]))", [[k[0] for k in chunk], [k[1] for k in chunk]],
                )
            else:
                cursor.execute(
                    f"WITH wanted (place_id, address) AS (VALUES {', '.join(['(%s, %s)'] * len(chunk))}) "
                    f"SELECT h.id, h.place_id, h.place_path, h.address FROM wanted JOIN {table} h "
                    f"ON h.place_id = wanted.place_id AND h.address = wanted.address",
                    list(chain.from_iterable(chunk)),
                )
            for pk, pid, path, address in cursor.fetchall():
                found[pid, address] = _Household(pk, pid, path)
    return found


def _existing_ids(bidxs: list[str]) -> list[str]:
    """Those of the ID blind indexes that belong to a person (one index probe each)."""
    table = connection.ops.quote_name(Person._meta.db_table)
    found = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT id_bidx FROM {table} WHERE id_bidx = ANY(%s)", [bidxs])
            found.extend(row[0] for row in cursor.fetchall())
        else:
            for chunk in _chunks(bidxs):
                cursor.execute(f"SELECT id_bidx FROM {table} WHERE id_bidx IN ({', '.join(['%s'] * len(chunk))})", chunk)
                found.extend(row[0] for row in cursor.fetchall())
    return found


def _chunks(items: list, params_each: int = 1):
    """`items` in slices small enough for the database's limit of query parameters. After
    the full slices the rest comes in power-of-two sizes, so that only a few distinct
    statements are made (SQLite keeps up to 128 prepared statements per connection, and
    one with thousands of parameters is large)."""
    limit = connection.features.max_query_params or 30000
    if connection.vendor == "sqlite":  # Django assumes 999; the library in use may allow more
        connection.ensure_connection()
        limit = max(limit, min(connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 30000))
    size = max(limit // params_each - 2, 1)
    i = 0
    while len(items) - i >= size:
        yield items[i:i + size]
        i += size
    while i < len(items):
        n = 1 << ((len(items) - i).bit_length() - 1)
        yield items[i:i + n]
        i += n


CHECKPOINT_PAGES = 50_000  # ~200 MB of WAL between checkpoints during an import
CACHE_KIB = 128 * 1024  # SQLite page cache of the importing connection (default: 2 MiB)


@contextmanager
def sqlite_import_settings(pages: int, cache_kib: int):
    """On SQLite, for the import's connection:
    - copy the write-ahead log into the database every `pages` pages instead of after every
      commit (wal_autocheckpoint, 1000 by default): a batch dirties pages all over the
      indexes, and pages that the next batches dirty again are then written back once;
    - a page cache of `cache_kib` KiB instead of 2 MiB: a batch inserts into seven indexes
      of persons (IDs, phones and names in random order), which with the default cache are
      read back and spilled to the log again and again within one transaction.
    Durability is unchanged (journal_mode=WAL and synchronous=FULL stay: every commit is
    synced to the log); the connection's settings are restored afterwards."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        before_pages = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA cache_size")
        before_cache = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")
        cursor.execute(f"PRAGMA cache_size = {-int(cache_kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {before_pages}")
            cursor.execute(f"PRAGMA cache_size = {before_cache}")
