"""An import leaves the database to the others' writes (the gates) part of the time: after
a batch beside which another connection committed, it waits until its batches held no
more than settings.IMPORT_WRITE_SHARE of its time (jobs.WriteShare; bench W8). With the
database to itself, or with the share at 1, it never waits."""
from __future__ import annotations

import threading

import pytest
from django.core.cache import caches
from django.db import connection, connections

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


def _others_commit():
    """Another connection (a thread's) commits a few times, as the gates would."""
    def work():
        try:
            cache = caches["default"]
            for i in range(jobs.WriteShare.OWN_COMMITS + 3):
                cache.set(f"share-test-{i}", i)
            if connection.vendor == "postgresql":  # its commits counted now, not within the second
                with connection.cursor() as cur:
                    cur.execute("SELECT pg_stat_force_next_flush()")
                cache.set("share-test-flush", 1)
        finally:
            connections.close_all()

    t = threading.Thread(target=work)
    t.start()
    t.join()


@pytest.fixture
def waits(monkeypatch):
    out = []
    monkeypatch.setattr(jobs.WriteShare, "sleep", staticmethod(out.append))
    return out


@pytest.fixture
def beside(monkeypatch):
    """Each batch of the import written while another connection commits."""
    real = jobs.process_batch

    def process_batch(*args, **kwargs):
        _others_commit()
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "process_batch", process_batch)


@pytest.mark.django_db(transaction=True)
def test_beside_other_writers_an_import_waits_out_its_share(cast, committee, waits, beside, settings):  # noqa: F811
    settings.IMPORT_WRITE_SHARE = 0.25
    job = jobs.run_import(_start(cast, committee, "甲乙丙"), acting_user=cast.committee_a, batch_size=BATCH)
    assert job.status == "done" and Person.objects.filter(name__startswith="份额").count() == ROWS
    assert len(waits) == ROWS // BATCH and all(w > 0 for w in waits), waits


@pytest.mark.django_db(transaction=True)
def test_alone_or_with_no_share_an_import_never_waits(cast, committee, waits, settings, monkeypatch):  # noqa: F811
    settings.IMPORT_WRITE_SHARE = 0.25
    job = jobs.run_import(_start(cast, committee, "丁戊"), acting_user=cast.committee_a, batch_size=BATCH)
    assert job.status == "done" and waits == []
    settings.IMPORT_WRITE_SHARE = 1.0
    real = jobs.process_batch
    monkeypatch.setattr(jobs, "process_batch", lambda *a, **k: (_others_commit(), real(*a, **k)))
    job = jobs.run_import(_start(cast, committee, "己庚"), acting_user=cast.committee_a, batch_size=BATCH)
    assert job.status == "done" and waits == []


@pytest.mark.django_db
def test_the_wait_keeps_the_import_to_its_share():
    share = jobs.WriteShare(0.25)
    share.mark, share._mark = 0, lambda: 99  # noqa: SLF001 (others committed meanwhile)
    waited = []
    share.sleep = waited.append
    assert share.after(0.2) == pytest.approx(0.6) and waited == [pytest.approx(0.6)]  # 0.2 / (0.2 + 0.6) = 0.25
