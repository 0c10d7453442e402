"""An import leaves the database to the others' writes (the gates) part of the time: after
a batch beside which another connection committed, it waits until its batches held no
more than settings.IMPORT_WRITE_SHARE of its time (jobs.WriteShare; bench W8). With the
database to itself, or with the share at 1, it never waits."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from fangkong.residents import importing
from fangkong.residents.importing import jobs
from fangkong.residents.models import ImportJob, ImportSeen, Person
from tests.test_import import committee, csv_bytes, reader, row, upload  # noqa: F401

ROWS = 30
BATCH = 10


def _start(cast, committee, names: str):  # noqa: F811
    data = csv_bytes([row(600 + i, f"份额{names[i % len(names)]}") for i in range(ROWS)])
    assert upload(committee, cast, data).status_code == 302
    job = ImportJob.objects.latest("pk")
    return importing.start_import(acting_user=cast.committee_a, job=job, mapping=job.mapping, enqueue=False)


@pytest.fixture
def other():
    """Another connection, as the gates' are: a thread's, kept open for the test (a
    closed connection's backend is gone from PostgreSQL's list of who is at work)."""
    pool = ThreadPoolExecutor(max_workers=1)

    def commit():
        cache = caches["default"]
        for i in range(3):
            cache.set(f"share-test-{i}", i)

    yield lambda: pool.submit(commit).result()
    pool.submit(connections.close_all).result()
    pool.shutdown()


@pytest.fixture
def waits(monkeypatch):
    out = []
    monkeypatch.setattr(jobs.WriteShare, "sleep", staticmethod(out.append))
    return out


@pytest.fixture
def beside(monkeypatch, other):
    """Each batch of the import written while another connection commits."""
    real = jobs.process_batch

    def process_batch(*args, **kwargs):
        other()
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "process_batch", process_batch)


@pytest.mark.django_db(transaction=True)
def test_beside_other_writers_an_import_waits_out_its_share(cast, committee, waits, beside, settings):  # noqa: F811
    settings.IMPORT_WRITE_SHARE = 0.25
    job = jobs.run_import(_start(cast, committee, "甲乙丙"), acting_user=cast.committee_a, batch_size=BATCH)
    assert job.status == "done" and Person.objects.filter(name__startswith="份额").count() == ROWS
    assert len(waits) == ROWS // BATCH and all(w > 0 for w in waits), waits


@pytest.mark.django_db(transaction=True)
def test_alone_or_with_no_share_an_import_never_waits(cast, committee, waits, settings, monkeypatch, other):  # noqa: F811
    settings.IMPORT_WRITE_SHARE = 0.25
    monkeypatch.setattr(jobs.WriteShare, "SHARED_ROWS", 4)
    real, sizes = jobs.process_batch, []
    monkeypatch.setattr(jobs, "process_batch", lambda job, batch, *a, **k: (sizes.append(batch.size), real(job, batch, *a, **k)))
    job = jobs.run_import(_start(cast, committee, "丁戊"), acting_user=cast.committee_a, batch_size=BATCH)
    assert job.status == "done" and waits == []
    # On SQLite a short first part finds nobody else: then whole batches.
    assert sizes == ([4, 6, 10, 10] if connection.vendor == "sqlite" else [10, 10, 10]), sizes
    monkeypatch.setattr(jobs, "process_batch", real)
    settings.IMPORT_WRITE_SHARE = 1.0
    real = jobs.process_batch
    monkeypatch.setattr(jobs, "process_batch", lambda *a, **k: (other(), real(*a, **k)))
    job = jobs.run_import(_start(cast, committee, "己庚"), acting_user=cast.committee_a, batch_size=BATCH)
    assert job.status == "done" and waits == []


@pytest.mark.django_db
def test_the_wait_keeps_the_import_to_its_share():
    share = jobs.WriteShare(0.25)
    share.others = lambda: True  # others were at work meanwhile
    waited = []
    share.sleep = waited.append
    assert share.after(0.2) == pytest.approx(0.6) and waited == [pytest.approx(0.6)]  # 0.2 / (0.2 + 0.6) = 0.25


def test_a_batch_is_cut_into_parts_that_count_its_blank_rows():
    from fangkong.residents.importing.rows import Batch

    batch = Batch(["r2", "r3", "r7"], 10, [2, 3, 7])  # rows at file rows 2, 3, 7 of 10; the rest blank
    first, rest = batch.part(0, 2), batch.part(2, None)
    assert (first.rows, first.size, first.ends) == (["r2", "r3"], 3, [2, 3])
    assert (rest.rows, rest.size, rest.ends) == (["r7"], 7, [4])  # with the blank rows after it
    assert batch.part(0, None).size == 10 and batch.part(1, 5).size == 8
    assert Batch([], 4, []).part(0, 2).size == 4  # only blank rows: one part


def _with_blanks(names: str) -> bytes:
    rows = []
    for i in range(ROWS):
        rows.append(row(700 + i, f"分批{names[i % len(names)]}"))
        if i % 4 == 1:
            rows.append([])  # a blank line: skipped, but counted by the job's cursor
    return csv_bytes(rows)


@pytest.mark.django_db(transaction=True)
def test_beside_other_writers_on_sqlite_an_import_writes_short_transactions_and_resumes_between_them(
        cast, committee, waits, other, settings, monkeypatch):  # noqa: F811
    """While others use a SQLite database, a batch is written SHARED_ROWS rows at a time
    (a gate waits at most for one of those); each part advances the job's cursor by its own
    file rows, blank ones included, so that a job stopped between two parts resumes at the
    right row. Alone, or on PostgreSQL, the batches stay whole."""
    settings.IMPORT_WRITE_SHARE = 0.25
    monkeypatch.setattr(jobs.WriteShare, "SHARED_ROWS", 4)
    data = _with_blanks("甲乙丙")
    assert upload(committee, cast, data).status_code == 302
    job = ImportJob.objects.latest("pk")
    job = importing.start_import(acting_user=cast.committee_a, job=job, mapping=job.mapping, enqueue=False)
    real, parts = jobs.process_batch, []
    stop_at = 5 if connection.vendor == "sqlite" else 2  # parts of 4 rows / whole batches

    def process_batch(job, batch, *args, **kwargs):
        other()
        if len(parts) == stop_at:
            raise RuntimeError("the worker stopped")
        real(job, batch, *args, **kwargs)
        parts.append((len(batch.rows), batch.size))

    monkeypatch.setattr(jobs, "process_batch", process_batch)
    with pytest.raises(RuntimeError):
        jobs.run_import(job, acting_user=cast.committee_a, batch_size=BATCH)
    stopped = ImportJob.objects.get(pk=job.pk)
    assert stopped.processed_rows == sum(size for _rows, size in parts)
    if connection.vendor == "sqlite":
        assert all(n <= 4 for n, _size in parts), parts  # parts of at most 4 rows
    else:
        assert all(size == BATCH for _n, size in parts), parts
    parts.append("resumed")  # no more stops
    monkeypatch.setattr(jobs, "FORGET_ROWS", 7)
    with CaptureQueriesContext(connection) as ctx:
        job = jobs.run_import(stopped, acting_user=cast.committee_a, batch_size=BATCH)
    # Its list of IDs seen forgotten at the end: on SQLite beside others, 7 rows a transaction.
    forgets = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("DELETE") and "importseen" in q["sql"]]
    assert len(forgets) == (ROWS // 7 + 1 if connection.vendor == "sqlite" else 1), forgets
    assert not ImportSeen.objects.filter(job=job).exists()
    assert job.status == "done" and job.error_count == 0, list(job.errors.values_list("row", "reason"))
    # Resumed exactly after the last part stored: no row read twice (unchanged), none skipped.
    assert job.unchanged_count == 0 and job.created_count == ROWS
    assert job.processed_rows == job.total_rows == ROWS + ROWS // 4 + (ROWS % 4 > 1)
    assert Person.objects.filter(name__startswith="分批").count() == job.created_count == ROWS
