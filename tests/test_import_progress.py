"""The import's progress moves as rows are read, for a file below the commit batch too, on
the job's page and on the command line (a line per 10 % when its output is not a
terminal). The reader (thread or process) waits at row 32 until the progress of the rows
before it has been shown: without progress while reading, it would wait in vain."""
from __future__ import annotations

import time

import pytest
from django.core.management import call_command

from fangkong.residents import importing
from fangkong.residents.importing import jobs, prefetch
from fangkong.residents.importing import rows as first_stage
from fangkong.residents.models import ImportJob, Person
from tests.test_import import committee, csv_bytes, reader, row, upload  # noqa: F401

ROWS = 50


@pytest.fixture
def waits_for(monkeypatch, tmp_path):
    """A file the reader waits for (up to 20 s) before reading data row 31."""
    monkeypatch.setattr(prefetch, "TICK_SECONDS", 0.02)
    monkeypatch.setattr(jobs, "PROGRESS_SECONDS", 0.0)
    marker = tmp_path / "progress-seen"
    real = first_stage.read_row

    def read_row(rownum, cells, lookups):
        if rownum == 32:
            for _ in range(1000):
                if marker.exists():
                    break
                time.sleep(0.02)
        return real(rownum, cells, lookups)

    monkeypatch.setattr(first_stage, "read_row", read_row)
    return marker


def _data():
    return csv_bytes([row(800 + i, f"进度{'甲乙丙丁戊己庚辛壬癸'[i % 10]}") for i in range(ROWS)])


def test_the_page_shows_rows_read_before_the_batch_is_stored(cast, committee, waits_for):
    assert ROWS < importing.BATCH  # one batch: nothing is stored before the whole file is read
    assert upload(committee, cast, _data()).status_code == 302
    job = importing.start_import(acting_user=cast.committee_a, job=ImportJob.objects.latest("pk"),
                                 mapping=ImportJob.objects.latest("pk").mapping, enqueue=False)
    shown = []

    def progress(done, total):
        stored = ImportJob.objects.get(pk=job.pk)
        page = committee.get(f"/residents/import/{job.pk}/progress/").content.decode()
        if 0 < stored.read_rows < ROWS and stored.processed_rows == 0:
            shown.append((stored.read_rows, stored.status, page))
            if stored.read_rows >= 30:
                waits_for.touch()

    job = importing.run_import(job, acting_user=cast.committee_a, progress=progress)
    assert job.status == "done" and Person.objects.filter(name__startswith="进度").count() == ROWS
    assert waits_for.exists(), "no progress was shown while the rows were read"
    read, status, page = shown[-1]
    assert 30 <= read < ROWS and status == "running"
    assert f'<progress value="{100 * read // ROWS}"' in page and f"{read}" in page
    assert job.read_rows == ROWS


def test_the_command_prints_a_line_per_ten_percent_when_not_on_a_terminal(cast, tmp_path, waits_for):
    f = tmp_path / "居民.csv"
    f.write_bytes(_data())
    out_path = tmp_path / "out.txt"

    class Out:
        """The command's output, a file the reader can look at (it may be another process)."""

        def __init__(self):
            self.fh = open(out_path, "w", buffering=1, encoding="utf-8")

        def write(self, s):
            self.fh.write(s)
            if any(f"import: {p}%" in s for p in (60, 70, 80, 90)):
                waits_for.touch()

        def flush(self):
            self.fh.flush()

        def isatty(self):
            return False

    out = Out()
    call_command("import_residents", str(f), "--place", "A", "--user", "committee_a", stdout=out)
    out.fh.close()
    text = out_path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("import: ")]
    assert waits_for.exists(), text
    percents = [int(line.split()[1].rstrip("%")) for line in lines]
    assert percents == sorted(set(percents)) and percents[-1] == 100 and any(0 < p < 100 for p in percents), lines
    assert all(p % 10 == 0 for p in percents)
    assert f"{ROWS} new" in text
