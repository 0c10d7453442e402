"""An import leaves the database to the others' writes (the gates) part of the time: after
a batch beside which another connection committed, it waits until its batches held no
more than settings.IMPORT_WRITE_SHARE of its time (jobs.WriteShare; bench W8). With the
database to itself, or with the share at 1, it never waits."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.db import connections

from fangkong.residents import importing
from fangkong.residents.importing import jobs
from fangkong.residents.models import ImportJob, Person
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
    job = jobs.run_import(_start(cast, committee, "丁戊"), acting_user=cast.committee_a, batch_size=BATCH)
    assert job.status == "done" and waits == []
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
