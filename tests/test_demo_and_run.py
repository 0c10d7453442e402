"""`fangkong demo` builds the synthetic street; `fangkong run` serves pages and runs the
background worker that executes imports."""
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from django.contrib.auth import authenticate
from django.core.management import call_command

from tests.machine import fresh_machine_env

from fangkong.lib.identity import normalize_id, normalize_phone
from fangkong.places.models import Organization, Place
from fangkong.residents.models import Household, Person


def test_demo_street(db, capsys):
    call_command("demo", "--persons", "300")
    out = capsys.readouterr().out
    assert Place.objects.filter(kind="community").count() == 12
    assert Place.objects.filter(kind="grid").count() == 141
    assert Place.objects.filter(kind="compound").count() == 8
    assert Organization.objects.filter(kind="employer").count() == 66
    # 300 residents in 100 households, the 24 persons (one household each) of the demo's inflow
    # applications, and the people other stories register (returning workers of the resumption
    # story, people registered on the spot at a testing site).
    assert Household.objects.count() >= 100 + 24 and Person.objects.count() >= 300 + 24
    assert Person.objects.filter(household__isnull=True).count() == 0
    for p in Person.objects.all():
        assert normalize_id(p.id_number())  # checksum, date and region valid
        if p.phone_masked:
            assert normalize_phone(p.phone())
    # A few days of the closed loop, so the boards have something on them.
    from fangkong.inflow.models import Application
    from fangkong.observation.models import Observation, Report

    assert Application.objects.count() == 24 and len(set(Application.objects.values_list("state", flat=True))) == 5
    assert Observation.objects.count() >= 5 and Report.objects.exists()
    rows = [line.split() for line in out.splitlines() if line.startswith("  ")]
    assert {r[0] for r in rows} == {"admin", "commander", "coordinator", "committee", "grid_worker", "medic",
                                    "gate_guard", "unit_liaison", "volunteer", "inspector", "storekeeper", "duty_officer", "property",
                                    "registrar", "lab"}
    for role, username, password, *_ in rows:
        user = authenticate(username=username, password=password)
        assert user is not None and user.grants.get().role == role
    # Running it again keeps the street and gives new passwords.
    persons = Person.objects.count()
    call_command("demo", "--persons", "300")
    again = {line.split()[1]: line.split()[2] for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    assert Person.objects.count() == persons
    assert all(again[r[1]] != r[2] for r in rows)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.one_database  # the README's first commands: SQLite of its own, whichever database the run uses
def test_run_serves_pages_and_worker_runs_imports(fresh_sqlite_var):
    # `fangkong migrate` from nothing: the session's migrated file (conftest.migrated_sqlite,
    # made by that command in an empty var directory), copied here; then demo and run.
    tmp_path = fresh_sqlite_var
    env = fresh_machine_env(tmp_path, FANGKONG_ENV="dev", FANGKONG_HUEY_IMMEDIATE="0")
    fk = [sys.executable, "-m", "fangkong.cli"]
    subprocess.run(fk + ["demo", "--persons", "30"], env=env, check=True, capture_output=True, timeout=300)
    port = _free_port()
    server = subprocess.Popen(fk + ["run", "--bind", f"127.0.0.1:{port}", "--web-workers", "1"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                page = urllib.request.urlopen(base + "/login/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("server did not start")
        assert page.status == 200
        assert urllib.request.urlopen(base + "/static/vendor/htmx/htmx.min.js", timeout=5).status == 200
        # Served without DEBUG (issue 15, point 4): a 404 names no URL pattern; on plain http
        # the cookies are not Secure (else signing in to the demo would fail).
        try:
            urllib.request.urlopen(base + "/no-such-page/", timeout=5)
            raise AssertionError("no 404")
        except urllib.error.HTTPError as missing:
            assert missing.code == 404
            body = missing.read().decode()
            assert "URLconf" not in body and "readyz" not in body and "Traceback" not in body
        cookie = page.headers.get("Set-Cookie") or ""
        assert "csrftoken=" in cookie and "secure" not in cookie.lower()
        assert urllib.request.urlopen(base + "/readyz", timeout=10).status == 200
        # Enqueue an import (not immediate): the worker started by `run` must execute it.
        f = tmp_path / "w.csv"
        f.write_text(f"姓名,身份证号\n后台,{_valid_id()}\n", encoding="utf-8")
        script = f"""
import django; django.setup()
from pathlib import Path
from django.contrib.auth import get_user_model
from fangkong.places.models import Place
from fangkong.residents import importing
from fangkong.residents.tasks import run_import_task
u = get_user_model().objects.get(username='demo_committee')
job = importing.create_job(acting_user=u, place=Place.objects.get(code='DEMO-C01'), stored_path=Path({str(f)!r}), file_name='w.csv')
job.status = 'queued'; job.save()
run_import_task(job.pk, u.pk)
print(job.pk)
"""
        out = subprocess.run([sys.executable, "-c", script], env=dict(env, DJANGO_SETTINGS_MODULE="fangkong.settings"),
                             check=True, capture_output=True, text=True, timeout=120).stdout
        job_id = int(out.strip().splitlines()[-1])
        check = ("import django; django.setup(); from fangkong.residents.models import ImportJob; "
                 f"j = ImportJob.objects.get(pk={job_id}); print(j.status, j.created_count)")
        for _ in range(100):
            status = subprocess.run([sys.executable, "-c", check], env=dict(env, DJANGO_SETTINGS_MODULE="fangkong.settings"),
                                    capture_output=True, text=True, timeout=60).stdout.strip()
            if status.startswith("done"):
                break
            time.sleep(0.3)
        assert status == "done 1"
    finally:
        os.killpg(server.pid, 15)
        printed = server.communicate(timeout=30)[0].decode(errors="replace")
    # The address it puts in links and QR codes (issue 14, point 1): the one it was started on.
    assert f"Links and QR codes point to http://127.0.0.1:{port}/" in printed, printed[-2000:]


def _valid_id():
    from tests.cast import make_id

    return make_id(11, region="110101", born="19900215")
