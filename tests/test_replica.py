"""The read replica (issue 22, item 3; fangkong/lib/db/replica.py), against a real streaming
replica: a primary PostgreSQL 15 cluster of the test's own (initdb in a temporary
directory, on a free port) and a replica of it (pg_basebackup -R, another port), both run
by the `postgres` OS user and removed at the end, and the app served by gunicorn in
subprocesses configured with both. The system cluster (the one of DATABASE_URL, which
other tests use at the same time) is not touched: it allows no replication connections.

Which copy served a page is seen in the page: the replica's replay is paused, a place is
renamed on the primary, and a page that shows the old name was read from the replica.

Run as root with PostgreSQL 15's server binaries installed (CI, this machine); elsewhere it
skips. Only in the PostgreSQL run (conftest: one_database). The router's rules, the sticky
window and the health check's cache are also checked in process (the SQLite run)."""
from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.machine import fresh_machine_env

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROOT = Path(__file__).resolve().parent.parent
OLD, NEW = "甲社区", "丙丁社区"  # (neither contains the other)
PASSWORD = "cast-password-123"  # tests/cast.py


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*cmd, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--", *map(str, cmd)], check=True, capture_output=True,
                          text=True, timeout=60, **kw)


def _sql(port: int, sql: str, db: str = "postgres"):
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=db, autocommit=True,
                         connect_timeout=5) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else None


def _start_cluster(data: Path, port: int, sockets: Path) -> None:
    opts = (f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c wal_level=replica -c max_wal_senders=4 -c shared_buffers=32MB")
    _as_postgres(PG_BIN / "pg_ctl", "-D", data, "-l", data.parent / f"{data.name}.log", "-w", "-t", "30",
                 "-o", opts, "start")


@pytest.fixture
def clusters():
    if os.geteuid() != 0 or not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip("needs root, runuser and PostgreSQL 15's server binaries (/usr/lib/postgresql/15/bin)")
    base = Path(tempfile.mkdtemp(prefix="replica-pg-"))
    shutil.chown(base, "postgres")
    primary, replica = base / "primary", base / "replica"
    ports = {"primary": _free_port(), "replica": _free_port()}
    started = []
    try:
        _as_postgres(PG_BIN / "initdb", "-D", primary, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                     "--locale=C", "-N")
        _start_cluster(primary, ports["primary"], base)
        started.append(primary)
        _sql(ports["primary"], "CREATE DATABASE fangkong")
        yield {"base": base, "ports": ports, "primary": primary, "replica": replica, "started": started}
    finally:
        for data in reversed(started):
            subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m",
                            "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _make_replica(c) -> None:
    _as_postgres(PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", c["ports"]["primary"], "-U", "postgres",
                 "-D", c["replica"], "-R", "-X", "stream", "-c", "fast")
    _start_cluster(c["replica"], c["ports"]["replica"], c["base"])
    c["started"].append(c["replica"])
    assert _sql(c["ports"]["replica"], "SELECT pg_is_in_recovery()") == [(True,)]


def _serve(env: dict):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "fangkong.wsgi:application", "-c",
                             "python:fangkong.gunicorn_conf", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                             "--threads", "2"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class _Browser:
    """A signed-in user's cookies, over urllib (the project's dependencies have no HTTP client)."""

    def __init__(self, base: str):
        self.base, self.jar = base, http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def get(self, path: str):
        try:
            r = self.opener.open(self.base + path, timeout=20)
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()
        return r.status, r.headers, r.read()

    def post(self, path: str, data: dict) -> int:
        req = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(
            {**data, "csrfmiddlewaretoken": self.csrf()}).encode(), headers={"Referer": self.base + path})
        try:
            return self.opener.open(req, timeout=20).status
        except urllib.error.HTTPError as e:
            return e.code


def _wait_up(proc, base: str) -> None:
    for _ in range(150):
        if proc.poll() is not None:
            raise AssertionError(proc.communicate()[0].decode(errors="replace")[-3000:])
        try:
            urllib.request.urlopen(base + "/login/", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


def _sign_in(base: str, username: str) -> _Browser:
    b = _Browser(base)
    assert b.get("/login/")[0] == 200
    status = b.post("/login/", {"username": username, "password": PASSWORD})
    assert status == 302, (username, status)
    return b


def _names(b: _Browser, path: str) -> set[str]:
    status, headers, raw = b.get(path)
    body = raw.decode("utf-8-sig", errors="replace")
    assert status == 200, (path, status, body[-2000:])
    if "json" in headers.get("Content-Type", ""):
        body = json.dumps(json.loads(body), ensure_ascii=False)
    return {n for n in (OLD, NEW) if n in body}


@pytest.mark.one_database("postgresql")
def test_reports_dashboards_and_exports_read_the_replica_with_fallbacks(db, clusters):
    # (db: the session's test database on the system cluster, which the autouse cache
    # fixtures clear; the app under test uses the clusters below.)
    c = clusters
    t0 = time.monotonic()
    primary_url = f"postgres://postgres@127.0.0.1:{c['ports']['primary']}/fangkong"
    replica_url = f"postgres://postgres@127.0.0.1:{c['ports']['replica']}/fangkong"
    var = c["base"] / "var"
    var.mkdir()
    env = fresh_machine_env(var, FANGKONG_ENV="dev", DATABASE_URL=primary_url, FANGKONG_DEBUG="0",
                            DJANGO_SETTINGS_MODULE="fangkong.settings", FANGKONG_HUEY_IMMEDIATE="1",
                            PYTHONPATH=str(ROOT))
    # The primary's database: a copy of this session's test database, which the test run
    # migrated (`migrate` from nothing again would take half a minute).
    from django.db import connection

    db_settings = connection.settings_dict
    where = [*(["-h", db_settings["HOST"]] if db_settings["HOST"] else []),
             *(["-p", str(db_settings["PORT"])] if db_settings["PORT"] else []),
             *(["-U", db_settings["USER"]] if db_settings["USER"] else [])]
    dump = subprocess.run([PG_BIN / "pg_dump", "--no-owner", "--no-privileges", *where, "-d", db_settings["NAME"]],
                          check=True, capture_output=True, timeout=120,
                          env=dict(os.environ, PGPASSWORD=db_settings["PASSWORD"] or "")).stdout
    subprocess.run([PG_BIN / "psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                    str(c["ports"]["primary"]), "-U", "postgres", "-d", "fangkong"], input=dump, check=True,
                   capture_output=True, timeout=120)
    print(f"database copied {time.monotonic() - t0:.1f} s")
    out = subprocess.run([sys.executable, "-c", "import django; django.setup(); from tests.cast import build_cast; "
                          "c = build_cast(); print(c.street.pk)"], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    street = int(out.strip().splitlines()[-1])
    _make_replica(c)
    t_setup = time.monotonic() - t0
    print(f"set-up {t_setup:.1f} s")

    # Two servers on the same two databases: one that tolerates a long lag (the replica
    # and the sticky window are seen with replay paused), one that tolerates 1 s. The
    # health check runs on every marked request here (0 s), so each request sees the
    # replica as it is at that moment.
    common = dict(env, FANGKONG_REPLICA_URL=replica_url, FANGKONG_REPLICA_STICKY_SECONDS="2",
                  FANGKONG_REPLICA_HEALTH_SECONDS="0")
    patient, patient_url = _serve(dict(common, FANGKONG_REPLICA_MAX_LAG_SECONDS="600"))
    strict, strict_url = _serve(dict(common, FANGKONG_REPLICA_MAX_LAG_SECONDS="1"))
    try:
        _wait_up(patient, patient_url)
        _wait_up(strict, strict_url)
        print(f"serving {time.monotonic() - t0:.1f} s")
        commander = _sign_in(patient_url, "commander")
        coordinator = _sign_in(patient_url, "coordinator")
        commander_strict = _sign_in(strict_url, "commander")
        today = dt.date.today()
        pages = [f"/dashboard/{street}/", f"/reports/?place={street}",
                 f"/reports/export.csv?place={street}&day={today.isoformat()}", f"/api/dashboard/{street}"]
        time.sleep(2.2)  # signing in was a POST: past the sticky window of each

        # Replica in step: every marked page shows the name.
        for page in pages:
            assert _names(commander, page) == {OLD}, page

        # Replay paused, the place renamed on the primary.
        _sql(c["ports"]["replica"], "SELECT pg_wal_replay_pause()")
        _sql(c["ports"]["primary"], f"UPDATE places_place SET name = '{NEW}' WHERE code = 'A'", db="fangkong")
        time.sleep(1.2)  # the strict server's threshold: 1 s
        for page in pages:
            # The reports, dashboard and exports: the replica's (old) name.
            assert _names(commander, page) == {OLD}, page
            # More than 1 s behind: the strict server reads the primary.
            assert _names(commander_strict, page) == {NEW}, page

        # The coordinator writes (closes yesterday): for 2 s their marked reads go to the
        # primary, the commander's still to the replica.
        yesterday = (today - dt.timedelta(days=1)).isoformat()
        status = coordinator.post("/reports/close/", {"day": yesterday})
        wrote = time.monotonic()
        assert status == 302
        seen_writer = _names(coordinator, f"/dashboard/{street}/")
        seen_other = _names(commander, f"/dashboard/{street}/")
        assert time.monotonic() - wrote < 2, "too slow to see the sticky window"
        assert seen_writer == {NEW} and seen_other == {OLD}
        assert _sql(c["ports"]["primary"], f"SELECT count(*) FROM reports_closedday WHERE day = '{yesterday}'",
                    db="fangkong") == [(1,)]
        assert _sql(c["ports"]["replica"], f"SELECT count(*) FROM reports_closedday WHERE day = '{yesterday}'",
                    db="fangkong") == [(0,)]  # (replay still paused)
        time.sleep(max(0.0, 2.2 - (time.monotonic() - wrote)))
        assert _names(coordinator, f"/dashboard/{street}/") == {OLD}  # the window is over

        # Replay resumed: the replica catches up and serves the new name.
        _sql(c["ports"]["replica"], "SELECT pg_wal_replay_resume()")
        for _ in range(50):
            if _sql(c["ports"]["replica"], "SELECT name FROM places_place WHERE code = 'A'", db="fangkong") == [(NEW,)]:
                break
            time.sleep(0.1)
        for page in pages:
            assert _names(commander_strict, page) == {NEW}, page

        # The replica paused again and renamed back on the primary, then stopped: the
        # patient server, which read the old copy, falls back to the primary.
        _sql(c["ports"]["replica"], "SELECT pg_wal_replay_pause()")
        _sql(c["ports"]["primary"], f"UPDATE places_place SET name = '{OLD}' WHERE code = 'A'", db="fangkong")
        assert _names(commander, f"/dashboard/{street}/") == {NEW}  # still the replica
        _as_postgres(PG_BIN / "pg_ctl", "-D", c["replica"], "-m", "fast", "-w", "stop")
        c["started"].remove(c["replica"])
        for page in pages:
            assert _names(commander, page) == {OLD}, page
    finally:
        logs = []
        for proc in (patient, strict):
            os.killpg(proc.pid, 15)
            logs.append(proc.communicate(timeout=30)[0].decode(errors="replace"))
    assert "replica unusable" in logs[0], logs[0][-3000:]
    print(f"set-up {t_setup:.1f} s, whole test {time.monotonic() - t0:.1f} s")


# --- In process: the rules, without a replica ------------------------------------------------

@pytest.mark.one_database
def test_router_sends_only_marked_reads_outside_transactions_to_the_replica(transactional_db):
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from fangkong.lib.db import replica
    from fangkong.places.models import Place

    router = replica.ReplicaRouter()
    cache_model = type("E", (), {"_meta": type("M", (), {"app_label": "django_cache"})()})
    assert router.db_for_read(Place) == "default"  # not marked
    token = replica._use_replica.set(True)  # as replica_reads() sets it when the replica is usable
    try:
        assert router.db_for_read(Place) == "replica"
        assert router.db_for_read(get_user_model()) == "replica"
        assert router.db_for_read(cache_model) == "default"  # the shared cache never goes back in time
        assert router.db_for_write(Place) == "default"
        with transaction.atomic():  # may read its own writes
            assert router.db_for_read(Place) == "default"
        assert router.db_for_read(Place) == "replica"
    finally:
        replica._use_replica.reset(token)
    assert router.allow_migrate("replica", "places") is False and router.allow_migrate("default", "places") is None
    # Not configured (this run): replica_reads() and the decorator never turn it on.
    assert not replica.configured()
    with replica.replica_reads(None):
        assert not replica.serving_from_replica()
    assert replica.reads_from_replica(lambda request: replica.serving_from_replica())(object()) is False


@pytest.mark.one_database
def test_a_users_write_keeps_their_reads_on_the_primary_for_the_sticky_seconds(db, cast, settings, monkeypatch):
    from fangkong.lib.db import replica

    settings.REPLICA_STICKY_SECONDS = 5
    clock = [time.time()]  # (the cache's own expiry reads the real clock: 6 s, not over here)
    monkeypatch.setattr(replica.time, "time", lambda: clock[0])
    assert not replica.wrote_recently(cast.commander)
    replica.mark_wrote(cast.commander)
    assert replica.wrote_recently(cast.commander) and not replica.wrote_recently(cast.coordinator)
    clock[0] += 4.9
    assert replica.wrote_recently(cast.commander)
    clock[0] += 0.2
    assert not replica.wrote_recently(cast.commander)
    settings.REPLICA_STICKY_SECONDS = 0
    replica.mark_wrote(cast.commander)
    assert not replica.wrote_recently(cast.commander)


@pytest.mark.one_database
def test_the_health_check_is_kept_per_process_for_a_moment(settings, monkeypatch):
    from fangkong.lib.db import replica

    settings.REPLICA_HEALTH_SECONDS, settings.REPLICA_MAX_LAG_SECONDS = 1, 5
    lags = iter([0.0, 7.0, None, 4.0])
    calls = []
    monkeypatch.setattr(replica, "measure_lag", lambda: calls.append(1) or next(lags))
    clock = [time.monotonic()]
    monkeypatch.setattr(replica.time, "monotonic", lambda: clock[0])
    replica.forget_health()
    try:
        assert replica.healthy() and replica.healthy() and len(calls) == 1  # one check within the second
        clock[0] += 1.01
        assert not replica.healthy() and len(calls) == 2  # 7 s behind
        clock[0] += 1.01
        assert not replica.healthy()  # down
        clock[0] += 1.01
        assert replica.healthy() and len(calls) == 4
    finally:
        replica.forget_health()
