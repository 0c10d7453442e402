"""An import that stops: its reading process dies with it (even under SIGKILL), a job left
unfinished is abandoned after IMPORT_ABANDON_HOURS without progress (its uploaded file and
temporary rows deleted), and the command's error file goes next to the job, not into the
current directory."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.residents.models import ImportJob, ImportSeen
from fangkong.residents.tasks import abandon_stalled_imports_task
from tests.test_import import _crashed_job, committee, csv_bytes, row, upload  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent

PARENT = """
import sys, time
import django
django.setup()
from fangkong.residents.importing import prefetch

def items():
    while True:  # a reader that never finishes its first batch
        time.sleep(0.05)
    yield

reader = prefetch.ProcessPrefetch(items)
print(reader._proc.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has ended: only its exit status waits for a parent


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_reading_process_dies_with_the_importer_even_under_sigkill():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="fangkong.settings", FANGKONG_ENV="test", PYTHONPATH=str(ROOT))
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        for _ in range(200):  # up to ~10 s for the kernel to deliver the signal
            if not _alive(child):
                break
            time.sleep(0.05)
        alive = _alive(child)
        if alive:
            os.kill(child, signal.SIGKILL)
        assert not alive, "the import's reading process outlived the importer"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_an_unfinished_import_is_abandoned_after_a_day_without_progress(cast, committee, monkeypatch, settings,
                                                                        tmp_path):
    settings.IMPORT_DIR = tmp_path
    crashed = _crashed_job(cast, committee, monkeypatch, 900)  # running, 3 of 5 rows stored
    assert ImportSeen.objects.filter(job=crashed).count() == 3
    assert upload(committee, cast, csv_bytes([row(910, "未确认")])).status_code == 302
    waiting = ImportJob.objects.latest("pk")  # uploaded, never confirmed
    assert upload(committee, cast, csv_bytes([row(911, "最近")])).status_code == 302
    recent = ImportJob.objects.latest("pk")
    files = {job.pk: Path(ImportJob.objects.get(pk=job.pk).stored_path) for job in (crashed, waiting, recent)}
    assert all(f.exists() for f in files.values())
    now = timezone.now()
    ImportJob.objects.filter(pk__in=[crashed.pk, waiting.pk]).update(updated_at=now - dt.timedelta(hours=25))
    ImportJob.objects.filter(pk=recent.pk).update(updated_at=now - dt.timedelta(hours=23))

    abandon_stalled_imports_task.call_local()  # the worker's hourly task

    got = {j.pk: (j.status, j.stored_path) for j in ImportJob.objects.filter(pk__in=files)}
    assert got == {crashed.pk: ("abandoned", ""), waiting.pk: ("abandoned", ""), recent.pk: ("uploaded", str(files[recent.pk]))}
    assert not files[crashed.pk].exists() and not files[waiting.pk].exists() and files[recent.pk].exists()
    assert not ImportSeen.objects.filter(job=crashed).exists()
    assert AuditEvent.objects.filter(action="residents.import.abandon").count() == 2
    # An abandoned job cannot be resumed nor started; its page says what happened.
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert committee.post(f"/residents/import/{crashed.pk}/resume/").status_code == 409
        assert committee.post(f"/residents/import/{waiting.pk}/start/", {"col_0": "name", "col_1": "id_number"}).status_code == 409
    page = committee.get(f"/residents/import/{crashed.pk}/").content.decode()
    assert "24" in page and 'hx-get' not in page


def test_the_time_to_abandon_is_configurable(cast, committee, settings):
    settings.IMPORT_ABANDON_HOURS = 2
    assert upload(committee, cast, csv_bytes([row(920, "配置")])).status_code == 302
    job = ImportJob.objects.latest("pk")
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - dt.timedelta(hours=3))
    abandon_stalled_imports_task.call_local()
    job.refresh_from_db()
    assert job.status == "abandoned" and job.stored_path == ""


def test_the_command_writes_the_error_file_of_a_resumed_job_next_to_the_job(cast, committee, monkeypatch, settings,
                                                                             tmp_path):
    settings.IMPORT_DIR = tmp_path / "imports"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    upload(committee, cast, csv_bytes([row(930 + i, f"续传{'甲乙丙'[i]}") for i in range(3)] + [["坏", "123", "", "", "", ""]]))
    job = ImportJob.objects.latest("pk")
    job.status = "failed"
    job.save()
    call_command("import_residents", "--resume", str(job.pk), "--user", "committee_a")
    job.refresh_from_db()
    assert (job.status, job.error_count) == ("done", 1)
    assert list(cwd.iterdir()) == []
    report = settings.IMPORT_DIR / f"importjob-{job.pk}.errors.csv"
    assert report.exists() and (report.stat().st_mode & 0o777) == 0o600
    assert report.read_text(encoding="utf-8-sig").splitlines()[1].startswith("5,")  # the bad row's error
