"""The first stage of an import: each row read, validated, and (if valid) its blind
indexes, ciphertexts and masks computed; no database, so it can run ahead of the writer
in a thread or a process (prefetch.py). Places and employers are resolved here only from
the per-run cache; the writer resolves the rest (resolve_row).

Each batch goes through two stages. The first needs no database: reading the file,
validating every row and computing its blind indexes and ciphertexts. It runs in a
background thread (prefetch.Prefetch), one batch ahead of the second stage (writer.process_batch), which
resolves places and employers, finds existing persons and households and writes the
batch in one transaction. The thread works while the database writes and commits (SQLite
in C without the GIL, PostgreSQL in its own process) and waits while the main thread
runs Python or reads rows (SQLite hands the GIL back and forth for every row read, and
a thread that keeps the GIL makes each hand-over wait for Python's 5 ms switch interval).
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection
from django.utils.translation import gettext as _

from fangkong.lib import crypto
from fangkong.lib.identity import IdentityError, mask_id, mask_phone
from fangkong.lib.sheets import Table
from fangkong.places.models import Organization, Place

from ..models import ImportJob
from ..validation import clean_tags, validate_person
from .fields import COLUMNS, MAX_CELL, TENURE_WORDS

_ID_AS_NUMBER = re.compile(r"\d(\.\d+)?[eE]\+?\d+")
_VALIDATED = ("name", "id_number", "phone", "sex", "birth_date", "note")


class Lookups:
    """Per-run caches: places and employers (bounded by the size of the tree), the
    mapping's columns, and the validation of tag cells (a handful of distinct texts)."""

    TAG_CACHE = 10_000

    def __init__(self, job: ImportJob, headers: list[str] | None = None):
        self.root = job.place
        self._places: dict[str, Place | None] = {}
        self._orgs: dict[str, Organization | None] = {}
        self.cells = COLUMNS.reader(job.mapping, job.headers if headers is None else headers, MAX_CELL)
        self.col = self.cells.header
        self.mapped = set(job.mapping.values())
        self._tags: dict[str, tuple[list[str], str | None]] = {}
        self.adapt_date = connection.ops.adapt_datefield_value
        # crypto.encrypt / blind_index with the keys looked up once per run.
        self.encrypt = crypto.encryptor()
        self.id_index, self.phone_index = crypto.blind_indexer("id"), crypto.blind_indexer("phone")
        self.reader = None  # the running Prefetch or ProcessPrefetch, if any

    @contextmanager
    def overlap(self):
        """Let the reader thread work during the enclosed database call."""
        if self.reader is None:
            yield
            return
        self.reader.resume()
        try:
            yield
        finally:
            self.reader.pause()

    def place(self, text: str) -> Place | None:
        if text not in self._places:
            qs = Place.objects.filter(path__under=self.root.path)
            self._places[text] = qs.filter(code=text).first() or qs.filter(name=text).order_by("depth").first()
        return self._places[text]

    def org(self, text: str) -> Organization | None:
        if text not in self._orgs:
            self._orgs[text] = (
                Organization.objects.filter(code=text).first() or Organization.objects.filter(name=text).first()
            )
        return self._orgs[text]

    def clean_tags(self, text: str) -> tuple[list[str], str | None]:
        """validation.clean_tags, remembered: (tags, None) or ([], error message)."""
        if text not in self._tags:
            if len(self._tags) >= self.TAG_CACHE:
                self._tags.clear()
            try:
                self._tags[text] = (clean_tags(text), None)
            except IdentityError as exc:
                self._tags[text] = ([], str(exc.message))
        return self._tags[text]


def _validate(raw: dict, lookups: Lookups) -> tuple[dict, dict]:
    """validate_person() of the row's fields, with the tags cell validated through the
    per-run cache (validation.clean_tags rebuilds its word table on every call). The
    result, errors and their order included, is validate_person's: it reports name,
    ID number and phone, then tags, then the other fields."""
    clean, errors = validate_person({k: raw.get(k, "") for k in _VALIDATED} | {"tags": ""})
    text = raw.get("tags", "")
    if text:
        tags, error = lookups.clean_tags(text)
        if error is None:
            clean["tags"] = list(tags)
        else:
            del clean["tags"]
            first = {k: errors[k] for k in ("name", "id_number", "phone") if k in errors}
            errors = first | {"tags": error} | errors
    return clean, errors


class Row:
    """A non-blank row after the first stage: what needs no database."""

    __slots__ = ("row", "errors", "clean", "place_text", "employer_text", "tenure", "tenure_error", "address",
                 "address_error", "bidx", "phone_bidx", "values", "place", "employer", "resolved")


def read_row(rownum: int, cells: list[str], lookups: Lookups) -> Row | None:
    """First stage of a row: read and validate its fields and, if they are valid, compute
    the new person's values (blind indexes, ciphertexts, masks). None for a blank row."""
    if not "".join(cells).strip():
        return None  # blank line: skipped silently
    r = Row()
    r.row = rownum
    raw, r.errors = lookups.cells(rownum, cells)
    errors = r.errors
    col = lookups.col
    if _ID_AS_NUMBER.fullmatch(raw.get("id_number", "")):
        errors.append((rownum, col["id_number"], _("The ID number was stored as a number and lost digits; format the column as text")))
        raw["id_number"] = ""
    r.clean, field_errors = _validate(raw, lookups)
    refused = lookups.cells.failed  # an over-long or uncomputed cell: reported once, not again as empty
    for field, reason in field_errors.items():
        if field in refused:
            continue
        if field in col and not (field == "id_number" and any(e[1] == col["id_number"] for e in errors)):
            errors.append((rownum, col[field], reason))
        elif field not in col and field in ("name", "id_number"):
            errors.append((rownum, "", reason))
    r.place_text, r.employer_text = raw.get("place", ""), raw.get("employer", "")
    r.tenure, r.tenure_error = "owned", None
    if raw.get("tenure"):
        r.tenure = TENURE_WORDS.get(raw["tenure"].lower())
        if r.tenure is None:
            r.tenure_error = (rownum, col["tenure"], _("Tenure must be 自有, 租住 or 其他"))
    r.address = raw.get("address", "")
    r.address_error = (rownum, col["address"], _("Address is longer than 200 characters")) if len(r.address) > 200 else None
    r.bidx = r.values = None
    r.phone_bidx = ""
    if not errors and r.tenure_error is None and r.address_error is None:
        c = r.clean
        id_number, phone = c["id_number"], c.get("phone", "")
        r.bidx = lookups.id_index(id_number)
        r.phone_bidx = lookups.phone_index(phone) if phone else ""
        encrypt = lookups.encrypt
        r.values = (
            c["name"], encrypt(id_number), r.bidx, mask_id(id_number),
            encrypt(phone) if phone else None, r.phone_bidx, mask_phone(phone),
            c["sex"], lookups.adapt_date(c["birth_date"]), tags_text(c), c.get("note", ""), 1,
        )
    r.resolved = resolve_row(r, lookups, cached_only=True)
    return r


def resolve_row(r: Row, lookups: Lookups, cached_only: bool = False) -> list | None:
    """Its place and employer complete a row. Returns the row's errors, as (row, column
    header, reason) in the order the checks are made; with cached_only, None unless both
    are already known (the reader thread must not use the database)."""
    if cached_only and (r.place_text and r.place_text not in lookups._places
                        or r.employer_text and r.employer_text not in lookups._orgs):
        return None
    errors = list(r.errors)
    col = lookups.col
    place = root = lookups.root
    if r.place_text:
        place = lookups.place(r.place_text)
        if place is None:
            errors.append((r.row, col["place"], _("Unknown grid or building %(p)s under %(root)s") % {"p": r.place_text[:40], "root": root.name}))
    if r.tenure_error:
        errors.append(r.tenure_error)
    employer = None
    if r.employer_text:
        employer = lookups.org(r.employer_text)
        if employer is None:
            errors.append((r.row, col["employer"], _("Unknown employer %(e)s") % {"e": r.employer_text[:40]}))
    if r.address_error:
        errors.append(r.address_error)
    r.place, r.employer = place, employer
    return errors


class Batch:
    """Up to batch_size rows of the file after the first stage; `size` counts blank rows too.
    `ends[i]`: how many of the batch's file rows, blank ones included, come up to and with
    rows[i], so that the batch can be stored in parts (`part`), each advancing the job's
    cursor by its own file rows."""

    __slots__ = ("rows", "size", "ends")

    def __init__(self, rows: list[Row], size: int, ends: list[int]):
        self.rows, self.size, self.ends = rows, size, ends

    def part(self, start: int, count: int | None) -> "Batch":
        """rows[start:start + count] (all the rest with None) as a batch of its own; the
        last part also takes the blank rows after the last row."""
        stop = len(self.rows) if count is None else min(len(self.rows), start + count)
        before = self.ends[start - 1] if start else 0
        after = self.size if stop == len(self.rows) else self.ends[stop - 1]
        return Batch(self.rows[start:stop], after - before, [e - before for e in self.ends[start:stop]])


def read_batches(source: Table, skip: int, lookups: Lookups, batch_size: int, gate: Callable[[], None] | None,
                 counter=None) -> Iterator[Batch]:
    """The file's rows after the first `skip`, through the first stage, in batches. With a
    gate (a reader thread), it is called for every row and the GIL is released after it.
    `counter.value` (if given) is the number of rows read so far: the job's progress."""
    rows, ends, size, read = [], [], 0, 0
    for rownum, cells in source.data_rows(skip=skip):
        if gate is not None:
            gate()
        r = read_row(rownum, cells, lookups)
        size += 1
        if r is not None:
            rows.append(r)
            ends.append(size)
        read += 1
        if counter is not None:
            counter.value = read
        if size >= batch_size:
            yield Batch(rows, size, ends)
            rows, ends, size = [], [], 0
        if gate is not None:
            os.sched_yield()  # releases the GIL: the main thread takes it back as soon as the database returns
    if size:
        yield Batch(rows, size, ends)


def tags_text(clean) -> str:
    return "," + ",".join(clean["tags"]) + "," if clean.get("tags") else ""


def row_clean(rec: Row) -> dict:
    """A row's validated fields (those of a row from the reading process come unpickled now)."""
    if isinstance(rec.clean, tuple):
        cleans, i = rec.clean
        rec.clean = cleans.get(i)
    return rec.clean
