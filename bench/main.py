"""bench/run [W1 W2 W3 W4 W5 W6 W7 W8 W9 W10 SCALE] [--persons N (W9)] [--size N] [--db sqlite|postgres] [--conc C] [--workers N] [--threads N]

Runs the chosen workloads (all by default) on the chosen databases (both by default) and
prints one line per workload and database:

    W1 sqlite ratio=0.63 value=41200 baseline=65400 unit=rows/s size=1000000 peak_mb=180
    W5 sqlite ratio=0.31 value=250 baseline=800 unit=req/s p99_ms=410 size=5000 conc=64 baseline_p99_ms=120 ...

--size is the number of person rows for W1/W2 (default 1,000,000) and the number of
measured requests for the HTTP workloads (default 5,000). HTTP workloads run the real
production server (gunicorn, gthread) on 127.0.0.1 against a scratch database prepared by
a worker step; their baseline is GET /healthz on the same server with the same
concurrency, measured before and after the workload (the mean of the two is reported;
see bench/http_harness.py). They also report the floor: POST /bench/floor on the same
server, the fastest durable write through this stack (one validated field, one row, one
commit, nobody signed in; bench/floor), measured before and after the workload, as
floor= (req/s, the mean), floor_ratio= (the workload against it) and
floor_p99_ms=, with floor_app_ms= (the server's CPU milliseconds per floor request, in its
first run: beside the workload's app_ms, what the workload costs the server beyond any
write); and the workload's latency at a steady rate for --paced-seconds (10 s), by
default half the floor's rate measured in the same run (at most --paced-max, 600 req/s;
--paced-rate N for a fixed rate), counted from when each request was due: paced_rate=,
paced_p50_ms=, paced_p99_ms=. Where the CPU went during the workload's measured run, in
milliseconds of CPU per request: the server's processes (app_ms), this load generator
(client_ms) and everything else on the machine, the database server included (other_ms),
with busy=, the share of all cores in use (bench/http_harness.CpuMeter): what a request
costs, for the capacity table in the README.

SCALE is W4's check-in through HAProxy (deploy/haproxy.cfg) to two app servers against
one (run_scale).

Every step runs in its own process against a fresh database: a temporary SQLite file, or
a scratch PostgreSQL database (fangkong_bench*, created and dropped here) on the server of
DATABASE_URL / postgres://postgres@127.0.0.1:5432. Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from fangkong import gunicorn_conf

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "W10", "SCALE"]
FILE_WORKLOADS = {"W1", "W2"}  # need the generated census files
DEFAULT_SIZE = {"SCALE": 5000, "W1": 1_000_000, "W2": 1_000_000, "W3": 20_000, "W4": 5000, "W5": 5000, "W6": 5000, "W7": 1_000_000,
                "W8": 1_000_000, "W9": 1_000_000, "W10": 500}
DATABASES = ["sqlite", "postgres"]
PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/test"
PG_SCRATCH = "fangkong_bench"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Env:
    """Environment of the worker processes for one database."""

    def __init__(self, db: str, tmp: Path):
        self.db, self.tmp = db, tmp
        self.var = tmp / "var"
        self.var.mkdir(parents=True, exist_ok=True)
        # Secrets of this run, given to every step and to the server (production requires them).
        self.secrets = {
            "FANGKONG_SECRET_KEY": secrets.token_urlsafe(50),
            "FANGKONG_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "FANGKONG_INDEX_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        if db == "postgres":
            url = os.environ.get("DATABASE_URL", "")
            if not url.startswith(("postgres://", "postgresql://")):
                url = PG_DEFAULT
            self.pg_base = urlsplit(url)

    def _pg_url(self, name: str) -> str:
        return urlunsplit(self.pg_base._replace(path="/" + name))

    def url(self, name: str) -> str:
        if self.db == "sqlite":
            return f"sqlite:///{self.tmp / name}.sqlite3"
        return self._pg_url(name)

    def env(self, name: str) -> dict:
        env = dict(os.environ)
        env.update(FANGKONG_ENV="test", FANGKONG_VAR=str(self.var), DATABASE_URL=self.url(name),
                   DJANGO_SETTINGS_MODULE="fangkong.settings", FANGKONG_LOG_LEVEL="WARNING",
                   PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""), **self.secrets)
        return env

    def server_env(self, name: str, **extra: str) -> dict:
        """Production settings for the web server on database `name` (DEBUG off, secrets of the run)."""
        env = self.env(name)
        # The API budget counted as in production, but not enforced: one guard (W4) sends
        # thousands of check-ins a second here.
        env.update(FANGKONG_ENV="production", FANGKONG_DEBUG="0", FANGKONG_ALLOWED_HOSTS="127.0.0.1,localhost",
                   FANGKONG_PUBLIC_URL="http://127.0.0.1",
                   FANGKONG_HUEY_IMMEDIATE="0", FANGKONG_API_RATE="1000000000/60", **extra)
        # The product's settings and URLs, plus the floor endpoint POST /bench/floor (bench/floor).
        env["DJANGO_SETTINGS_MODULE"] = "bench.floor.settings"
        return env

    def checkpoint(self, name: str) -> None:
        """The setup's writes flushed to the data files before a measurement (PostgreSQL:
        CHECKPOINT, which a superuser or pg_checkpoint may run, else nothing; SQLite: the WAL
        checkpointed into the file): a database made minutes before has thousands of new
        files and pages that the first checkpoint must write and fsync, a cost no running
        installation pays in the middle of its day (measured on W8: the first checkpoint
        after the scratch database's creation synced 1,815 files and the check-ins' p99
        went from 25-45 ms to 140-160 ms for its 30 s)."""
        if self.db == "sqlite":
            import sqlite3

            with sqlite3.connect(self.tmp / f"{name}.sqlite3") as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return
        import psycopg

        try:
            with psycopg.connect(self._pg_url(name), autocommit=True) as conn:
                conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            log("checkpoint: not allowed for this role; measuring with the setup's writes pending")

    # Fresh databases: a pristine one after setup, and a copy of it for every step.
    def _pg_admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self._pg_url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def create_empty(self, name: str) -> None:
        """A fresh database `name`: empty, for its worker's setup to migrate. The tests of the
        bench (tests/test_bench_*.py) give one already migrated in their session instead
        (FANGKONG_BENCH_MIGRATED_SQLITE: a SQLite file, with no WAL pending, copied;
        FANGKONG_BENCH_MIGRATED_POSTGRES: a database on the same server, used as the
        template): the setup's `migrate` then has nothing to apply, which saves a migration
        from nothing (about 30 s) per workload and database."""
        if self.db == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.tmp / name}.sqlite3{suffix}").unlink(missing_ok=True)
            migrated = os.environ.get("FANGKONG_BENCH_MIGRATED_SQLITE")
            if migrated:
                shutil.copyfile(migrated, f"{self.tmp / name}.sqlite3")
        else:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            migrated = os.environ.get("FANGKONG_BENCH_MIGRATED_POSTGRES")
            self._pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{migrated}"' if migrated else ""))

    def clone(self, src: str, dst: str) -> None:
        if self.db == "sqlite":
            self.create_empty(dst)
            import sqlite3

            with sqlite3.connect(f"{self.tmp / src}.sqlite3") as conn:  # fold the WAL in first
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copyfile(f"{self.tmp / src}.sqlite3", f"{self.tmp / dst}.sqlite3")
        else:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{dst}" WITH (FORCE)')
            self._pg_admin(f'CREATE DATABASE "{dst}" TEMPLATE "{src}"')

    def drop(self, name: str) -> None:
        if self.db == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.tmp / name}.sqlite3{suffix}").unlink(missing_ok=True)
        else:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def worker(env: Env, dbname: str, *args: str) -> dict:
    cmd = [sys.executable, "-m", "bench.worker", *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env.env(dbname), stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench step {' '.join(args)} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def line(workload: str, db: str, value: float, baseline: float, unit: str = "rows/s", **extra) -> str:
    ratio = value / baseline if baseline else 0.0
    parts = [f"{workload} {db}", f"ratio={ratio:.2f}", f"value={value:.0f}", f"baseline={baseline:.0f}", f"unit={unit}"]
    parts += [f"{k}={v}" for k, v in extra.items()]
    return " ".join(parts)


def run_w1(env: Env, size: int, files: dict) -> list[str]:
    pristine = f"{PG_SCRATCH}_w1"
    step = f"{PG_SCRATCH}_w1_step"
    env.create_empty(pristine)
    try:
        worker(env, pristine, "setup")
        env.clone(pristine, step)
        log(f"W1 {env.db}: baseline (raw {'executemany' if env.db == 'sqlite' else 'COPY'})")
        base = worker(env, step, "baseline", files["csv"])
        base_rate = base["rows"] / base["seconds"]
        log(f"W1 {env.db}: baseline {base['rows']} rows in {base['seconds']:.1f}s = {base_rate:.0f} rows/s")
        out = []
        for fmt, label in (("csv", "W1"), ("xlsx", "W1-xlsx")):
            env.clone(pristine, step)
            log(f"W1 {env.db}: importer on {fmt.upper()}")
            res = worker(env, step, "import", files[fmt], str(size))
            if res.get("first_errors") or res["status"] != "done" or res["created"] != size:
                log(f"W1 {env.db} {fmt}: unexpected result {res}")
            rate = res["rows"] / res["seconds"]
            log(f"W1 {env.db}: {fmt} {res['rows']} rows in {res['seconds']:.1f}s = {rate:.0f} rows/s, "
                f"peak {res['peak_mb']:.0f} MB (start {res['start_mb']:.0f} MB)")
            extra = {"size": size, "peak_mb": round(res["peak_mb"])}
            if res.get("child_peak_mb"):
                extra["reader_peak_mb"] = round(res["child_peak_mb"])
            if res["status"] != "done" or res["created"] != size or res["errors"]:
                extra["ok"] = "no"
            if fmt == "xlsx":
                extra["file_mb"] = round(files["xlsx_bytes"] / 2**20)
            out.append(line(label, env.db, rate, base_rate, **extra))
        return out
    finally:
        env.drop(step)
        env.drop(pristine)


def run_w2(env: Env, size: int, files: dict) -> list[str]:
    name = f"{PG_SCRATCH}_w2"
    env.create_empty(name)
    try:
        worker(env, name, "setup")  # the importer module needs a configured database
        log(f"W2 {env.db}: bare python-calamine")
        base = worker(env, name, "w2", "calamine", files["xlsx"])
        log(f"W2 {env.db}: importer reader")
        res = worker(env, name, "w2", "importer", files["xlsx"])
    finally:
        env.drop(name)
    if res["rows"] != base["rows"]:
        log(f"W2 {env.db}: row counts differ: importer {res['rows']}, calamine {base['rows']}")
    file_mb = files["xlsx_bytes"] / 2**20
    log(f"W2 {env.db}: calamine {base['seconds']:.1f}s peak {base['peak_mb']:.0f} MB; "
        f"importer {res['seconds']:.1f}s peak {res['peak_mb']:.0f} MB (start {res['start_mb']:.0f} MB); file {file_mb:.0f} MB")
    return [line("W2", env.db, res["rows"] / res["seconds"], base["rows"] / base["seconds"], size=size,
                 peak_mb=round(res["peak_mb"]), file_mb=round(file_mb), mem_x=f"{res['peak_mb'] / file_mb:.1f}",
                 baseline_peak_mb=round(base["peak_mb"]))]


FAILURES: list[str] = []  # checks that failed in this run: bench/run then exits with 1


def fail(msg: str) -> None:
    log("FAILED: " + msg)
    FAILURES.append(msg)


def _healthz(_i: int):
    return ("GET", "/healthz", None, {})


def http_baseline(srv, size: int, opts, label: str):
    """GET /healthz on the same server with the same concurrency and number of requests."""
    res = srv.load(_healthz, total=size, conc=opts.conc, expect=200, max_seconds=opts.max_seconds)
    log(f"{label}: baseline GET /healthz {res.summary()}")
    if not res.ok:
        fail(f"{label}: baseline incomplete: {res.errors}")
    return res


def _floor_request(i: int):
    return ("POST", "/bench/floor", FLOOR_BODIES[i % len(FLOOR_BODIES)], {"Content-Type": "application/json"})


FLOOR_BODIES = [json.dumps({"temperature": f"36.{i}"}).encode() for i in range(10)]


def http_floor(srv, size: int, opts, label: str):
    """POST /bench/floor on the same server, same concurrency and number of requests: the
    fastest durable write through this stack (bench/floor). It stores one row per request
    (warm-ups included; a request re-sent after a reset connection may store two)."""
    res = srv.load(_floor_request, total=size, conc=opts.conc, expect=201, max_seconds=opts.max_seconds)
    log(f"{label}: floor POST /bench/floor {res.summary()}")
    if not res.ok:
        fail(f"{label}: floor incomplete: {res.errors}")
    return res


def floor_rows_ok(floor, rows: int, size: int, conc: int) -> bool:
    """Whether the `rows` the floor endpoint stored are what its runs sent: size + one
    warm-up per connection each, plus at most one per re-sent request."""
    least = len(floor.runs) * (size + conc)
    return least <= rows <= least + floor.retries


def paced_count(opts) -> int:
    """Requests to prepare for the paced run (its rate for --paced-seconds; by default the
    rate is known only once the floor is measured, so as many as --paced-max allows), 0 if
    none."""
    rate = opts.paced_max if opts.paced_rate is None else opts.paced_rate
    return int(rate * opts.paced_seconds) if rate > 0 else 0


def paced_sent(paced) -> int:
    """Requests the paced run sent and had stored: its measured ones and one warm-up per
    connection (0 without a paced run)."""
    return 0 if paced is None else paced.count + paced.conc


def http_paced(srv, make_request, offset: int, opts, label: str, expect: int, floor):
    """The workload at a steady rate instead of flat out, on the same server: its latency
    at that load (counted from when each request was due). The rate: --paced-rate, or by
    default half the floor's rate of this run (`floor`), at most --paced-max. Request
    indices from `offset` on: rate x --paced-seconds measured (within paced_count(opts)),
    then one warm-up per connection. The result knows its `rate`, `count` and `conc`."""
    if opts.paced_rate is None:
        rate = float(round(min(floor.rps / 2, opts.paced_max)))
    else:
        rate = opts.paced_rate
    n = min(int(rate * opts.paced_seconds), paced_count(opts)) if rate > 0 else 0
    if not n:
        return None
    res = srv.load(lambda i: make_request(offset + i), total=n, conc=opts.conc, expect=expect, rate=rate,
                   max_seconds=opts.max_seconds, warmup_base=n)
    res.rate, res.count, res.conc = rate, n, opts.conc
    log(f"{label}: paced at {rate:g} req/s: {res.summary()}")
    if not res.ok:
        fail(f"{label}: paced run incomplete: {res.errors}")
    return res


def http_line(workload: str, db: str, res, bases: list, size: int, opts, floor=None, paced=None, **extra) -> str:
    from bench.http_harness import Pooled

    base = Pooled(bases)
    if paced is not None:  # the same write at a steady, lower rate: its latency there
        extra = {"paced_rate": f"{paced.rate:g}", "paced_p50_ms": f"{paced.pct(50):.1f}",
                 "paced_p99_ms": f"{paced.pct(99):.1f}", **extra}
    if floor is not None:  # the same write's rate against the floor of any write (bench/floor)
        extra = {"floor": f"{floor.rps:.0f}", "floor_ratio": f"{res.rps / floor.rps:.2f}" if floor.rps else "0",
                 "floor_p99_ms": f"{floor.pct(99):.1f}", **extra}
        floor_cpu = [r.cpu for r in getattr(floor, "runs", [floor]) if getattr(r, "cpu", None)]
        if floor_cpu:  # the server's CPU per floor request (its first run): what the workload's app_ms is beside
            extra["floor_app_ms"] = f"{floor_cpu[0]['app_ms']:.2f}"
    cpu = getattr(res, "cpu", None)
    if cpu:  # CPU ms per request of the server, the load generator and the rest (the database)
        extra = {**extra, **{k: f"{v:.2f}" for k, v in cpu.items()}}
    return line(workload, db, res.rps, base.rps, unit="req/s", p99_ms=f"{res.pct(99):.1f}", size=size, conc=opts.conc,
                baseline_p99_ms=f"{base.pct(99):.1f}", p50_ms=f"{res.pct(50):.1f}",
                baseline_p50_ms=f"{base.pct(50):.1f}", workers=opts.workers, threads=opts.threads, **extra)


def measure_http(env: Env, name: str, workload: str, size: int, opts, make_request, *, expect: int, warm: int,
                 server_extra: dict | None = None, after=None):
    """The one HTTP harness of W4 and W5: the production server (gunicorn, as `fangkong run`
    configures it) on database `name`; GET /healthz with the same concurrency and number of
    requests before and after the workload (their mean is the baseline); the workload's
    `size` requests, with as many to the floor endpoint (bench/floor) before and after
    them; then the workload
    paced (http_paced: request indices from size + conc on); then `after(srv)` if given.
    Returns (result, [baselines], floor, paced, after's result, server log tail)."""
    from bench import http_harness

    label = f"{workload} {env.db}"
    server_env = env.server_env(name, **(server_extra or {}))
    log(f"{label}: gunicorn {opts.workers} workers x {opts.threads} threads, {opts.conc} connections")
    with http_harness.Server(server_env, workers=opts.workers, threads=opts.threads,
                             log_path=env.tmp / f"{workload.lower()}-gunicorn.log") as srv:
        b1 = http_baseline(srv, size, opts, label)
        with http_harness.CpuMeter({"app": [srv.proc.pid]}) as floor_cpu:
            f1 = http_floor(srv, size, opts, label)
        f1.cpu = floor_cpu.per_request(f1.done)
        with http_harness.CpuMeter({"app": [srv.proc.pid]}) as cpu:
            res = srv.load(make_request, total=size, conc=opts.conc, expect=expect, warmup=warm, max_seconds=opts.max_seconds)
        res.cpu = cpu.per_request(res.done + opts.conc * warm)
        method, path = make_request(0)[:2]
        log(f"{label}: {method} {path} {res.summary()}")
        b2 = http_baseline(srv, size, opts, label)
        floor = http_harness.Pooled([f1, http_floor(srv, size, opts, label)])
        paced = http_paced(srv, make_request, size + opts.conc * warm, opts, label, expect, floor)
        more = after(srv) if after else None
        server_log = srv.log_tail()
    if res.errors:
        log(f"{label}: unexpected answers: {res.errors}")
    return res, [b1, b2], floor, paced, more, server_log


def run_w5(env: Env, size: int, opts) -> list[str]:
    """Temperature reports by personal link: POST /api/resident/reports, one per person."""
    name = f"{PG_SCRATCH}_w5_{os.getpid()}"  # unique: several people may run the bench on one server
    warm = 1  # warm-up requests per connection, each for a person of its own (indices size..)
    paced = paced_count(opts)
    persons = size + opts.conc * warm + (paced + opts.conc * warm if paced else 0)  # one report each
    env.create_empty(name)
    try:
        log(f"W5 {env.db}: preparing {persons} persons under observation with personal links")
        prep = worker(env, name, "w5_setup", str(persons))
        log(f"W5 {env.db}: prepared in {prep['seconds']}s")
        requests = w5_reports(persons)
        # Reports are taken only inside a window: one window over the whole day (a run across
        # midnight reports on two days, still once per person; the period covers both days).
        res, bases, floor, paced_res, _more, server_log = measure_http(
            env, name, "W5", size, opts, requests.__getitem__, expect=201, warm=warm,
            server_extra={"FANGKONG_OBSERVATION_WINDOWS": "00:00-23:59:59.999999"})
        check = worker(env, name, "w5_check")
        floor_rows = worker(env, name, "floor_check")["rows"]
    finally:
        env.drop(name)
    extra = {"reports": check["reports"]}  # stored, warm-up included
    persons = size + opts.conc * warm + paced_sent(paced_res)  # what was sent (the paced run's rate known now)
    paced = paced_res.count if paced_res else 0
    if not res.ok or check["reports"] != persons or check["observations"] != persons or check["max_per_observation"] != 1 \
            or check["audit"] != persons:
        fail(f"W5 {env.db}: expected {persons} reports ({size} measured, {paced} paced + {persons - size - paced} warm-up), one per person, "
             f"each audited; found {check}; answers {res.statuses}")
        if server_log:
            log("server log (tail):\n" + server_log)
        extra["ok"] = "no"
    if not floor_rows_ok(floor, floor_rows, size, opts.conc):
        fail(f"W5 {env.db}: the floor endpoint stored {floor_rows} rows, not 2 x {size + opts.conc}")
    return [http_line("W5", env.db, res, bases, size, opts, floor=floor, paced=paced_res, **extra)]


def w4_checkins(setup: dict):
    """W4's check-in as a request: POST /api/gates/entries by the signed-in guard of
    `setup` (the worker's w4_setup), a new entry for each index (its client id made from
    it; `offline` ones in a range of their own)."""
    import uuid
    from datetime import datetime, timezone

    headers = {"Content-Type": "application/json", "Cookie": f"{setup['cookie']}; csrftoken={setup['csrf']}",
               "X-CSRFToken": setup["csrf"]}
    when = datetime.now(timezone.utc).isoformat()

    def entry(i: int, offline: bool = False) -> dict:
        return {"client_id": str(uuid.UUID(int=(i + 1) | (offline << 100))), "place": setup["place"], "direction": "in",
                "subject": "person", "token": setup["token"], "temperature": f"36.{i % 9}", "decision": "allowed",
                "offline": offline, "occurred_at": when}

    def request(i: int):
        return ("POST", "/api/gates/entries", json.dumps(entry(i)).encode(), headers)

    return entry, request, headers


def run_w4(env: Env, size: int, opts) -> list[str]:
    """Gate check-in over HTTP: POST /api/gates/entries (pass verify, pass status now, one
    log row and its audit event) by a signed-in guard, one new entry per request; then the
    batched sync of --sync-rows offline entries (POST /api/gates/entries/batch, 500 per
    request, as the gate page sends its queue) over one connection."""
    name = f"{PG_SCRATCH}_w4_{os.getpid()}"
    warm = 1
    paced = paced_count(opts)
    total = size + opts.conc * warm + (paced + opts.conc * warm if paced else 0)  # a new entry each
    env.create_empty(name)
    try:
        setup = worker(env, name, "w4_setup")
        entry, checkin, headers = w4_checkins(setup)
        requests = [checkin(i) for i in range(total)]
        rows = [entry(i, offline=True) for i in range(opts.sync_rows)]
        batches = [("POST", "/api/gates/entries/batch", json.dumps({"entries": rows[i:i + 500]}).encode(), headers)
                   for i in range(0, len(rows), 500)]

        def sync(srv):
            if not batches:
                return None
            return srv.load(batches.__getitem__, total=len(batches), conc=1, expect=200, warmup=0,
                            max_seconds=opts.max_seconds, timeout=120)

        res, bases, floor, paced_res, synced, server_log = measure_http(env, name, "W4", size, opts, requests.__getitem__, expect=201,
                                                      warm=warm, after=sync)
        check = worker(env, name, "w4_check")
        floor_rows = worker(env, name, "floor_check")["rows"]
    finally:
        env.drop(name)
    extra = {"entries": check["online"]}
    total = size + opts.conc * warm + paced_sent(paced_res)  # what was sent (the paced run's rate known now)
    paced = paced_res.count if paced_res else 0
    if not res.ok or check["online"] != total or check["allowed"] != total or check["audit"] != total:
        fail(f"W4 {env.db}: expected {total} allowed online entries ({size} measured, {paced} paced + {total - size - paced} warm-up), each "
             f"audited; found {check}; answers {res.statuses}")
        if server_log:
            log("server log (tail):\n" + server_log)
        extra["ok"] = "no"
    if not floor_rows_ok(floor, floor_rows, size, opts.conc):
        fail(f"W4 {env.db}: the floor endpoint stored {floor_rows} rows, not 2 x {size + opts.conc}")
    out = [http_line("W4", env.db, res, bases, size, opts, floor=floor, paced=paced_res, **extra)]
    if synced is not None:
        log(f"W4 {env.db}: sync of {len(rows)} offline entries in {len(batches)} batches: {synced.summary()}")
        ok = synced.ok and check["offline"] == len(rows)
        if not ok:
            fail(f"W4 {env.db}: sync stored {check['offline']} of {len(rows)} offline entries; answers {synced.statuses}")
        out.append(f"W4-sync {env.db} value={len(rows) / synced.seconds:.0f} unit=rows/s seconds={synced.seconds:.1f} "
                   f"size={len(rows)} stored={check['offline']} batch=500" + ("" if ok else " ok=no"))
    return out


def core_reference() -> float:
    """Seconds one core of this machine takes for a fixed pure-Python loop (10 million
    additions, while nothing else of the bench runs): the run's CPU figures (app_ms, ...)
    are in this machine's core-milliseconds, and this figure, taken on another machine,
    says how to carry them there (this project's machine gave 1.67 s on 2026-12-07, a day
    when its floor was about half of other days')."""
    t = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - t


def run_scale(env: Env, size: int, opts) -> list[str]:
    """Scale-out (issue 22): W4's check-in through the load balancer of the repository's
    own configuration (deploy/haproxy.cfg, bench/http_harness.Balancer) to two app servers
    against one, on this machine and one database. Each app server is the production
    server as `fangkong run` configures it (--workers x --threads); both run for the whole
    workload. Flat out (`size` check-ins over --conc connections, each with a warm-up):
    once straight to one server (the proxy's own cost), then through the proxy to one,
    two, one and two servers (alternated: the machine's speed drifts; each layout's rate is
    the pooled rate of its two runs). ratio = two / one. Beside the rates, what limits
    them: the machine's busy share during the runs (busy=, of all cores) and the CPU
    milliseconds per check-in of the app servers (app_ms), the proxy (proxy_ms), this load
    generator (client_ms) and everything else, the database included (other_ms)."""
    from bench import http_harness

    name = f"{PG_SCRATCH}_scale_{os.getpid()}"
    label = f"SCALE {env.db}"
    env.create_empty(name)
    try:
        _entry, checkin, _headers = w4_checkins(worker(env, name, "w4_setup"))
        env.checkpoint(name)
        sent = [0]

        def measured(target, servers, what: str) -> dict:
            """One flat-out run of `size` check-ins to `target`, with its CPU accounting."""
            base = sent[0]
            groups = {"app": [s.proc.pid for s in servers]}
            if target not in servers:
                groups["proxy"] = [target.proc.pid]
            with http_harness.CpuMeter(groups) as cpu:
                res = target.load(lambda i: checkin(base + i), total=size, conc=opts.conc, expect=201,
                                  max_seconds=opts.max_seconds)
            sent[0] += size + opts.conc  # the measured ones and one warm-up per connection
            log(f"{label}: {what}: {res.summary()}")
            if not res.ok:
                fail(f"{label}: {what} incomplete: {res.errors}")
            return {"res": res, "proxy_ms": 0.0, **cpu.per_request(size + opts.conc)}

        server_env = env.server_env(name, FANGKONG_PROXY_HOPS="1")  # the proxy appends X-Forwarded-For
        log(f"{label}: two app servers of gunicorn {opts.workers} workers x {opts.threads} threads, {opts.conc} connections, "
            f"{os.cpu_count()} cores")
        with http_harness.Server(server_env, workers=opts.workers, threads=opts.threads,
                                 log_path=env.tmp / "scale-app1.log") as s1, \
                http_harness.Server(server_env, workers=opts.workers, threads=opts.threads,
                                    log_path=env.tmp / "scale-app2.log") as s2:
            direct = measured(s1, [s1, s2], "straight to one server")
            runs: dict[str, list[dict]] = {"one": [], "two": []}
            for layout in ("one", "two", "one", "two"):
                ports = [s1.port] if layout == "one" else [s1.port, s2.port]
                with http_harness.Balancer(ports, log_path=env.tmp / f"scale-haproxy-{layout}.log") as lb:
                    runs[layout].append(measured(lb, [s1, s2], f"through the proxy to {layout} server(s)"))
            server_log = s1.log_tail() + "\n" + s2.log_tail()
        check = worker(env, name, "w4_check")
    finally:
        env.drop(name)
    retries = sum(r["res"].retries for r in [direct, *runs["one"], *runs["two"]])  # a re-sent request may store two
    ok = sent[0] <= check["online"] <= sent[0] + retries and check["audit"] == check["online"]
    if not ok:
        fail(f"{label}: expected {sent[0]} check-ins stored and audited (+{retries} re-sent), found {check}")
        log("server logs (tail):\n" + server_log)

    def pooled(key: str) -> float:
        return http_harness.Pooled([r["res"] for r in runs[key]]).rps

    def mean(key: str, what: str) -> str:
        return f"{sum(r[what] for r in runs[key]) / len(runs[key]):.2f}"

    one, two = pooled("one"), pooled("two")
    extra = {"p99_ms": f"{http_harness.Pooled([r['res'] for r in runs['two']]).pct(99):.1f}",
             "one_p99_ms": f"{http_harness.Pooled([r['res'] for r in runs['one']]).pct(99):.1f}",
             "direct": f"{direct['res'].rps:.0f}", "proxy_ratio": f"{one / direct['res'].rps:.2f}" if direct["res"].rps else "0",
             "cores": os.cpu_count(), "core_ref_s": f"{core_reference():.2f}", "busy_one": mean("one", "busy"), "busy_two": mean("two", "busy"),
             **{f"{k}_one": mean("one", k) for k in ("app_ms", "proxy_ms", "client_ms", "other_ms")},
             **{f"{k}_two": mean("two", k) for k in ("app_ms", "proxy_ms", "client_ms", "other_ms")},
             "size": size, "conc": opts.conc, "workers": opts.workers, "threads": opts.threads}
    if not ok:
        extra["ok"] = "no"
    return [line("SCALE", env.db, two, one, unit="req/s", **extra)]


def run_w8(env: Env, size: int, files: dict, opts) -> list[str]:
    """Gate check-ins at a steady rate while an import of `size` census rows runs on the
    same database (issue 22: an import must never starve the gates). The W4 server and
    check-in; the floor measured first (its rate sets the pace: half of it, as W4's paced
    run, or --paced-rate); check-ins paced for --paced-seconds with nothing else running
    (idle), then the importer started in a process of its own (as a worker would run it:
    bench.worker import, the real create_job + run_import on the census file), and the
    same pace kept for as long as the import runs (at least --paced-seconds). Reports the
    p99 during the import against the idle p99 (ratio; target ≤ 2 and ≤ 50 ms), and the
    import's own rate beside it."""
    from bench import http_harness

    name = f"{PG_SCRATCH}_w8_{os.getpid()}"
    label = f"W8 {env.db}"
    env.create_empty(name)
    try:
        worker(env, name, "setup")  # the demo tree and the importing user
        _entry, checkin, _headers = w4_checkins(worker(env, name, "w4_setup"))
        sent = [0]

        def paced(rate: float, seconds: float, what: str):
            n = max(1, int(rate * seconds))
            res = srv.load(lambda i: checkin(sent[0] + i), total=n, conc=opts.conc, expect=201, rate=rate,
                           max_seconds=opts.max_seconds, warmup_base=n)
            sent[0] += n + opts.conc
            log(f"{label}: check-ins at {rate:g} req/s, {what}: {res.summary()}")
            if not res.ok:
                fail(f"{label}: check-ins {what} incomplete: {res.errors}")
            return res

        with http_harness.Server(env.server_env(name), workers=opts.workers, threads=opts.threads,
                                 log_path=env.tmp / "w8-gunicorn.log") as srv:
            floor = http_floor(srv, min(5000, max(500, opts.conc * 20)), opts, label)
            rate = opts.paced_rate or float(round(min(floor.rps / 2, opts.paced_max)))
            idle = paced(rate, opts.paced_seconds, "idle")
            cmd = [sys.executable, "-m", "bench.worker", "import", files["csv"], str(size)]
            log(f"{label}: import of {size} rows started beside the check-ins")
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env.env(name), stdout=subprocess.PIPE, text=True)
            during = []
            # Paced runs back to back while the import runs (the first always runs whole).
            while True:
                during.append(paced(rate, opts.paced_seconds, f"during the import (run {len(during) + 1})"))
                if proc.poll() is not None:
                    break
            out, _ = proc.communicate()
            import_seconds = time.perf_counter() - started
            server_log = srv.log_tail()
        if proc.returncode != 0:
            raise SystemExit(f"{label}: the import failed (exit {proc.returncode})")
        res = json.loads(out.strip().splitlines()[-1])
        check = worker(env, name, "w4_check")
    finally:
        env.drop(name)
    pooled = http_harness.Pooled(during)
    # The share of the paced runs' time the import was running (the last run may outlast it).
    paced_time = sum(r.seconds for r in during)
    overlap = min(1.0, import_seconds / paced_time) if paced_time else 0.0
    extra = {"p99_ms": f"{pooled.pct(99):.1f}", "idle_p99_ms": f"{idle.pct(99):.1f}", "p50_ms": f"{pooled.pct(50):.1f}", "p99_9_ms": f"{pooled.pct(99.9):.1f}",
             "paced_rate": f"{rate:g}", "floor": f"{floor.rps:.0f}", "import_rows": res["rows"],
             "import_rows_s": f"{res['rows'] / res['seconds']:.0f}", "overlap": f"{overlap:.2f}", "checkins": sum(len(r.latencies_ms) for r in during)}
    if res["status"] != "done" or res["created"] != size or check["online"] != sent[0] or check["audit"] != sent[0]:
        fail(f"{label}: import {res['status']} {res['created']}/{size}; check-ins stored {check['online']} of {sent[0]}")
        if server_log:
            log("server log (tail):\n" + server_log)
        extra["ok"] = "no"
    p99 = pooled.pct(99)
    return [line("W8", env.db, p99, idle.pct(99), unit="ms", **extra)]


def w6_registrations(setup: dict, conc: int):
    """W6's registration as a request: POST /api/testing/sites/{site}/registrations by the
    signed-in registrar of `setup` (the worker's w6_setup), the i-th person into the tube of
    lane i % conc (ten persons a tube, as a 10-in-1 site fills them); `offline` ones (the
    sync's) in a range and tubes of their own."""
    import uuid
    from datetime import datetime, timezone

    persons = setup["persons"]
    headers = {"Content-Type": "application/json", "Cookie": f"{setup['cookie']}; csrftoken={setup['csrf']}",
               "X-CSRFToken": setup["csrf"]}
    when = datetime.now(timezone.utc).isoformat()

    def entry(i: int, offline: bool = False) -> dict:
        lane = i % conc
        return {"client_id": str(uuid.UUID(int=(i + 1) | (offline << 100))), "person": persons[i],
                "tube": f"{'S' if offline else 'W'}{lane:03d}X{(i // conc) // 10:07d}", "occurred_at": when,
                **({"op": "register"} if offline else {})}

    url = f"/api/testing/sites/{setup['site']}/registrations"

    def request(i: int):
        return ("POST", url, json.dumps(entry(i)).encode(), headers)

    return entry, request, headers


def w5_reports(count: int) -> list:
    """W5's temperature reports as requests: POST /api/resident/reports by personal link,
    the i-th for the i-th person of the worker's w5_setup."""
    from bench.worker import resident_token

    bodies = [json.dumps({"temperature": f"36.{i % 9}", "symptoms": []}).encode() for i in range(10)]
    return [("POST", "/api/resident/reports", bodies[i % 10],
             {"X-Resident-Token": resident_token(i), "Content-Type": "application/json"}) for i in range(count)]


def run_w6(env: Env, size: int, opts) -> list[str]:
    """Testing registration over HTTP: POST /api/testing/sites/{site}/registrations (the
    person by name-search id, the tube's barcode; access check, tube row lock, one row and
    its audit event) by a signed-in registrar, ten persons per tube as a 10-in-1 site fills
    them; then the batch sync of --sync-rows offline registrations (POST .../sync, 500 per
    request, as the registration page sends its queue) over one connection."""
    name = f"{PG_SCRATCH}_w6_{os.getpid()}"
    warm = 1
    paced = paced_count(opts)
    total = size + opts.conc * warm + (paced + opts.conc * warm if paced else 0)
    env.create_empty(name)
    try:
        log(f"W6 {env.db}: preparing {total + opts.sync_rows} persons and a running round")
        setup = worker(env, name, "w6_setup", str(total + opts.sync_rows))
        log(f"W6 {env.db}: prepared in {setup['seconds']}s")
        site = setup["site"]
        entry, registration, headers = w6_registrations(setup, opts.conc)
        requests = [registration(i) for i in range(total)]
        rows = [entry(total + i, offline=True) for i in range(opts.sync_rows)]
        batches = [("POST", f"/api/testing/sites/{site}/sync", json.dumps({"entries": rows[i:i + 500]}).encode(), headers)
                   for i in range(0, len(rows), 500)]

        def sync(srv):
            if not batches:
                return None
            return srv.load(batches.__getitem__, total=len(batches), conc=1, expect=200, warmup=0,
                            max_seconds=opts.max_seconds, timeout=300)

        res, bases, floor, paced_res, synced, server_log = measure_http(env, name, "W6", size, opts, requests.__getitem__,
                                                                        expect=201, warm=warm, after=sync)
        check = worker(env, name, "w6_check")
        floor_rows = worker(env, name, "floor_check")["rows"]
    finally:
        env.drop(name)
    extra = {"registrations": check["online"]}
    total = size + opts.conc * warm + paced_sent(paced_res)  # what was sent (the paced run's rate known now)
    if not res.ok or check["online"] != total or check["over"] or check["audit"] != total + check["offline"]:
        fail(f"W6 {env.db}: expected {total} online registrations, each audited, no tube over capacity; found {check}; "
             f"answers {res.statuses}")
        if server_log:
            log("server log (tail):\n" + server_log)
        extra["ok"] = "no"
    if not floor_rows_ok(floor, floor_rows, size, opts.conc):
        fail(f"W6 {env.db}: the floor endpoint stored {floor_rows} rows, not 2 x {size + opts.conc}")
    out = [http_line("W6", env.db, res, bases, size, opts, floor=floor, paced=paced_res, **extra)]
    if synced is not None:
        log(f"W6 {env.db}: sync of {len(rows)} offline registrations in {len(batches)} batches: {synced.summary()}")
        ok = synced.ok and check["offline"] == len(rows)
        if not ok:
            fail(f"W6 {env.db}: sync stored {check['offline']} of {len(rows)} offline registrations; answers {synced.statuses}")
        out.append(f"W6-sync {env.db} value={len(rows) / synced.seconds:.0f} unit=rows/s seconds={synced.seconds:.1f} "
                   f"size={len(rows)} stored={check['offline']} batch=500" + ("" if ok else " ok=no"))
    return out


W10_ATTACKERS = 100


def _w10_attackers(port: int, csrf: str, many_addresses: bool, many_names: bool, seconds: float, flood: bool,
                   results, floor: bool = False) -> None:
    """W10's attackers: W10_ATTACKERS keep-alive connections posting wrong passwords for
    the name w10victim, for `seconds`: once a second all together (a burst of parallel
    sign-ins; default), or with `flood` each again as soon as it is answered. Puts
    (attempts, {status: count}, the bursts' seconds sorted) on `results`.

    The attackers stand for clients on other machines: on this one they run at the lowest
    CPU priority (nice 19), so that the server's figures measure what the attack costs the
    server, not what sending it costs the two cores the bench shares with the server.

    `floor`: the same connections and bursts, each request a GET /healthz (the cheapest
    answer the server gives: no database, no session): what 100 requests at once cost the
    signed-in user whatever they ask, the floor under the sign-in refusals' figure."""
    import http.client
    import threading
    from urllib.parse import urlencode

    from bench import http_harness

    os.nice(19)
    counter = iter(range(10**9))

    def attack(i: int):
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}"}
        if many_addresses:
            headers["X-Forwarded-For"] = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        name = f"w10guess{i}" if many_names else "w10victim"
        body = urlencode({"username": name, "password": "wrong-password", "csrfmiddlewaretoken": csrf}).encode()
        if floor:
            return ("GET", "/healthz", None, {})
        return ("POST", "/login/", body, headers)

    if flood:
        res = http_harness.load(port, attack, total=10_000_000, conc=W10_ATTACKERS, expect=200 if floor else 429,
                                max_seconds=seconds)
        results.put((len(res.latencies_ms), res.statuses, 0.0))
        return
    lock = threading.Lock()
    statuses: dict[int, int] = {}
    burst_seconds: list[float] = []
    end = time.monotonic() + seconds
    state = {"t": 0.0}

    def start_round():
        state["t"] = time.monotonic()

    def end_round():
        burst_seconds.append(time.monotonic() - state["t"])

    go = threading.Barrier(W10_ATTACKERS, action=start_round)
    done = threading.Barrier(W10_ATTACKERS, action=end_round)

    def one():
        conn = http.client.HTTPConnection(http_harness.HOST, port, timeout=60)
        while True:
            go.wait()
            method, path, data, headers = attack(next(counter))
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(http_harness.HOST, port, timeout=60)
                status = 0
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
            if done.wait() == 0:
                pass
            # the next round starts a second after this one did (or at once if it took longer)
            pause = state["t"] + 1.0 - time.monotonic()
            if time.monotonic() + max(pause, 0) >= end:
                break
            if pause > 0:
                time.sleep(pause)
        conn.close()

    threads = [threading.Thread(target=one, daemon=True) for _i in range(W10_ATTACKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put((sum(statuses.values()), statuses, sorted(burst_seconds) or [0.0]))


def run_w10(env: Env, size: int, opts) -> list[str]:
    """A signed-in user's GET /api/me at a steady --w10-rate, alone (before and after: the
    baseline) and while W10_ATTACKERS connections post wrong-password sign-ins for one
    known user name: all together once a second (100 parallel sign-ins), or with
    --w10-flood each again as soon as answered; from one address, or with --w10-addresses
    each from a new one (through a trusted proxy's X-Forwarded-For); for one name, or with
    --w10-names each for another. value and baseline are
    the user's p99 in ms (lower is better). floor_p99_ms: the user's p99 during the same
    bursts of GET /healthz, the cheapest request (floor_ratio = value / it: what the sign-in
    refusals cost beyond any 100 requests at once; target <= 1.5, restated from "ratio <= 5"
    with the measurements in bench/RESULTS.md: on two cores any 100 requests at once raise
    the user's p99 7-15x)."""
    import multiprocessing

    from bench import http_harness

    name = f"{PG_SCRATCH}_w10_{os.getpid()}"
    label = f"W10 {env.db}"
    env.create_empty(name)
    try:
        setup = worker(env, name, "w10_setup")
        reader = ("GET", "/api/me", None, {"Cookie": setup["cookie"]})
        csrf = setup["csrf"]

        rate, conc = opts.w10_rate, 4
        extra = {"FANGKONG_PROXY_HOPS": "1"} if opts.w10_addresses else {}
        with http_harness.Server(env.server_env(name, **extra), workers=opts.workers, threads=opts.threads,
                                 log_path=env.tmp / "w10-gunicorn.log") as srv:
            alone1 = srv.load(lambda i: reader, total=size, conc=conc, expect=200, rate=rate, max_seconds=opts.max_seconds)
            log(f"{label}: signed-in GET alone {alone1.summary()}")
            seconds = size / rate
            # The attackers in a process of their own (as they would be on other machines), so
            # that their threads do not hold the measuring client's interpreter lock.
            ctx = multiprocessing.get_context("fork")
            results = ctx.Queue()
            attackers = ctx.Process(target=_w10_attackers, args=(srv.port, csrf, opts.w10_addresses, opts.w10_names, seconds + 3.0,
                                                                 opts.w10_flood, results))
            attackers.start()
            time.sleep(2.0)  # the attackers' connections are open and sending
            during = srv.load(lambda i: reader, total=size, conc=conc, expect=200, rate=rate, max_seconds=opts.max_seconds)
            attempts, attack_statuses, bursts = results.get(timeout=opts.max_seconds + 120)
            attackers.join(timeout=60)
            log(f"{label}: signed-in GET during the attack {during.summary()}")
            log(f"{label}: {W10_ATTACKERS} attackers ({'flood' if opts.w10_flood else 'a burst a second'}): "
                f"{attempts} wrong sign-ins, answers {attack_statuses}"
                + ("" if opts.w10_flood else f", bursts answered in {bursts[len(bursts) // 2] * 1000:.0f} ms (median), "
                                           f"{bursts[-1] * 1000:.0f} ms (slowest)"))
            # The floor: the same bursts of the cheapest request there is (GET /healthz).
            results = ctx.Queue()
            attackers = ctx.Process(target=_w10_attackers, args=(srv.port, csrf, False, False, seconds + 3.0, opts.w10_flood,
                                                                 results, True))
            attackers.start()
            time.sleep(2.0)
            floor = srv.load(lambda i: reader, total=size, conc=conc, expect=200, rate=rate, max_seconds=opts.max_seconds)
            _n, floor_statuses, floor_bursts = results.get(timeout=opts.max_seconds + 120)
            attackers.join(timeout=60)
            log(f"{label}: signed-in GET during bursts of GET /healthz (the floor) {floor.summary()}; "
                f"answers {floor_statuses}" + ("" if opts.w10_flood else
                                                f", bursts answered in {floor_bursts[len(floor_bursts) // 2] * 1000:.0f} ms (median)"))
            alone2 = srv.load(lambda i: reader, total=size, conc=conc, expect=200, rate=rate, max_seconds=opts.max_seconds)
            log(f"{label}: signed-in GET alone again {alone2.summary()}")
    finally:
        env.drop(name)
    base = http_harness.Pooled([alone1, alone2])
    if not (alone1.ok and alone2.ok and during.ok):
        fail(f"{label}: the signed-in user's GETs were not all answered 200: {during.statuses} {during.errors}")
    statuses = ",".join(f"{k}:{v}" for k, v in sorted(attack_statuses.items()))
    value, baseline = during.pct(99), base.pct(99)
    ratio = value / baseline if baseline else 0.0
    return [f"W10 {env.db} ratio={ratio:.2f} value={value:.1f} baseline={baseline:.1f} unit=ms size={size} rate={rate:g} "
            f"attackers={W10_ATTACKERS} attack={'flood' if opts.w10_flood else 'bursts'} "
            f"addresses={'many' if opts.w10_addresses else 'one'} names={'many' if opts.w10_names else 'one'} attempts={attempts} attack_statuses={statuses} "
            f"p50_ms={during.pct(50):.1f} "
            f"baseline_p50_ms={base.pct(50):.1f} floor_p99_ms={floor.pct(99):.1f} "
            f"floor_ratio={value / floor.pct(99) if floor.pct(99) else 0.0:.2f}"]


def run_w3(env: Env, size: int, files: dict) -> list[str]:
    """Pass token verification: check_token vs the bare Ed25519 verify, same tokens, same process."""
    name = f"{PG_SCRATCH}_w3"
    env.create_empty(name)
    try:
        log(f"W3 {env.db}: {size} tokens")
        res = worker(env, name, "w3", str(size))
    finally:
        env.drop(name)
    log(f"W3 {env.db}: check_token {res['seconds']:.2f}s, bare verify {res['baseline_seconds']:.2f}s, "
        f"{res['revoked']} revoked passes listed")
    return [line("W3", env.db, res["tokens"] / res["seconds"], res["tokens"] / res["baseline_seconds"], unit="tokens/s",
                 size=size, revoked=res["revoked"])]


def run_w7(env: Env, size: int) -> list[str]:
    """The daily report over size persons, 10 x size temperature reports and 5 x size gate
    rows vs one hand-written SQL GROUP BY over the same rows (bench/w7.py). Times: lower is better."""
    name = f"{PG_SCRATCH}_w7_{os.getpid()}"
    env.create_empty(name)
    try:
        log(f"W7 {env.db}: loading {size} persons, {10 * size} temperature reports, {5 * size} gate rows")
        res = worker(env, name, "w7", str(size))
    finally:
        env.drop(name)
    log(f"W7 {env.db}: loaded in {res['setup_seconds']}s; report {res['seconds']:.3f}s, SQL GROUP BY "
        f"{res['baseline_seconds']:.3f}s; day {res['day']}: {res['gate_entries']} gate entries, {res['reports']} reports "
        f"({res['metrics']} metrics, {res['places']} places)")
    extra = {"size": size, "metrics": res["metrics"], "places": res["places"]}
    if res["gate_entries"] + res["reports"] != res["sql_total"]:
        fail(f"W7 {env.db}: the report counted {res['gate_entries']} + {res['reports']}, the SQL {res['sql_total']}")
        extra["ok"] = "no"
    ratio = res["seconds"] / res["baseline_seconds"] if res["baseline_seconds"] else 0.0
    parts = [f"W7 {env.db}", f"ratio={ratio:.2f}", f"value={res['seconds']:.3f}", f"baseline={res['baseline_seconds']:.3f}",
             "unit=s"] + [f"{k}={v}" for k, v in extra.items()]
    return [" ".join(parts)]


def run_w9(env: Env, size: int) -> list[str]:
    """A testing day (bench/w9.py): size persons, 95 % registered in 10-in-1 tubes, sealed and
    resulted (bulk-loaded: load_rows_per_s), a sample through the module's sync and result rows
    (sync_rows_per_s, result_rows_per_s, one process), then the coverage per building by the
    module vs one hand-written SQL statement over the same rows. Times: lower is better (target ratio <= 2)."""
    name = f"{PG_SCRATCH}_w9_{os.getpid()}"
    env.create_empty(name)
    try:
        log(f"W9 {env.db}: {size} persons")
        res = worker(env, name, "w9", str(size))
    finally:
        env.drop(name)
    rows = res["registrations"] + res["tubes"]
    load_rate = rows / res["load_seconds"] if res["load_seconds"] else 0.0
    sync_rate = res["sync_rows"] / res["sync_seconds"] if res["sync_seconds"] else 0.0
    result_rate = res["result_rows"] / res["result_seconds"] if res["result_seconds"] else 0.0
    log(f"W9 {env.db}: set up in {res['setup_seconds']}s; loaded {res['registrations']} registrations + {res['tubes']} tubes "
        f"in {res['load_seconds']:.1f}s = {load_rate:.0f} rows/s; sync {res['sync_rows']} in {res['sync_seconds']:.1f}s = "
        f"{sync_rate:.0f} rows/s; results {res['result_rows']} in {res['result_seconds']:.1f}s = {result_rate:.0f} rows/s; "
        f"coverage {res['seconds']:.3f}s, SQL {res['baseline_seconds']:.3f}s over {res['buildings']} buildings "
        f"({res['tested']} of {res['must']} tested)")
    extra = {"size": size, "buildings": res["buildings"], "tested": res["tested"], "must": res["must"],
             "load_rows_per_s": round(load_rate), "sync_rows_per_s": round(sync_rate),
             "result_rows_per_s": round(result_rate)}
    if not res["same"] or res["buildings"] != res["places"]:
        fail(f"W9 {env.db}: the module's coverage per building differs from the SQL's ({res['buildings']} buildings "
             f"of {res['places']})")
        extra["ok"] = "no"
    ratio = res["seconds"] / res["baseline_seconds"] if res["baseline_seconds"] else 0.0
    parts = [f"W9 {env.db}", f"ratio={ratio:.2f}", f"value={res['seconds']:.3f}", f"baseline={res['baseline_seconds']:.3f}",
             "unit=s"] + [f"{k}={v}" for k, v in extra.items()]
    return [" ".join(parts)]


def sanity(dbs: list[str], size: int) -> int:
    failed = 0
    with tempfile.TemporaryDirectory(prefix="fangkong-bench-") as tmp:
        for db in dbs:
            env = Env(db, Path(tmp) / db)
            name = f"{PG_SCRATCH}_sanity"
            env.create_empty(name)
            log(f"sanity on {db}, {size} rows")
            try:
                proc = subprocess.run([sys.executable, "-m", "bench.worker", "sanity", str(size)], cwd=ROOT,
                                      env=env.env(name), stdout=subprocess.PIPE, text=True)
            finally:
                env.drop(name)
            lines = proc.stdout.strip().splitlines()
            print("\n".join(f"{db}: {line}" for line in lines[:-1]), flush=True)
            failed += proc.returncode != 0 or json.loads(lines[-1])["failures"] != 0
    return 1 if failed else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", metavar="W", help=f"workloads to run (default: {' '.join(WORKLOADS)})")
    ap.add_argument("--size", type=int, help="person rows for W1/W2 (default 1,000,000); measured requests for W4/W5 (default 5,000)")
    ap.add_argument("--persons", type=int, help="W9: persons of the testing day (default 1,000,000; --size too)")
    ap.add_argument("--db", choices=DATABASES, action="append", help="database (default: both)")
    ap.add_argument("--conc", type=int, default=64, help="HTTP workloads: concurrent keep-alive connections (default 64)")
    ap.add_argument("--workers", type=int, default=gunicorn_conf.WORKERS,
                    help=f"HTTP workloads: gunicorn worker processes (default {gunicorn_conf.WORKERS}, as `fangkong run`)")
    ap.add_argument("--threads", type=int, default=gunicorn_conf.THREADS,
                    help=f"HTTP workloads: threads per gunicorn worker (default {gunicorn_conf.THREADS}, as `fangkong run`)")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="HTTP workloads: time limit of each load phase")
    ap.add_argument("--paced-rate", type=float, default=None, help="W4/W5/W6: also run the workload at this steady "
                    "rate (req/s; 0: not) and report its latency there (default: half the floor's rate measured in the "
                    "same run, at most --paced-max)")
    ap.add_argument("--paced-max", type=float, default=600.0, help="W4/W5/W6: the highest default paced rate (req/s; "
                    "its requests are prepared before the floor is known; default 600)")
    ap.add_argument("--paced-seconds", type=float, default=10.0, help="W4/W5: length of the paced run (default 10 s)")
    ap.add_argument("--sync-rows", type=int, default=10_000, help="W4: offline entries synced in batches (default 10,000)")
    ap.add_argument("--w10-rate", type=float, default=50.0, help="W10: the signed-in user's GETs per second (default 50)")
    ap.add_argument("--w10-flood", action="store_true", help="W10: each attacker sends again as soon as it is "
                    "answered, instead of all together once a second")
    ap.add_argument("--w10-names", action="store_true", help="W10: every wrong sign-in for another user name "
                    "(credential stuffing) instead of one known name")
    ap.add_argument("--w10-addresses", action="store_true", help="W10: every wrong sign-in from a new address "
                    "(X-Forwarded-For behind a trusted proxy) instead of one")
    ap.add_argument("--sanity", action="store_true", help="instead of measuring, check the importer's behaviour "
                    "on a small file (--size, default 5,000 rows)")
    args = ap.parse_args(argv)
    if args.sanity:
        return sanity(args.db or DATABASES, args.size or 5000)
    workloads = [w.upper() for w in args.workloads] or WORKLOADS
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workload(s) {' '.join(unknown)}; this bench/run knows {' '.join(WORKLOADS)}")
    dbs = args.db or DATABASES
    if args.size is not None and args.size < 1 or args.conc < 1 or args.workers < 1 or args.threads < 1:
        ap.error("--size, --conc, --workers and --threads must be positive")

    with tempfile.TemporaryDirectory(prefix="fangkong-bench-") as tmp:
        tmp = Path(tmp)
        files = {}
        if (FILE_WORKLOADS | {"W8"}) & set(workloads):
            gen_env = Env("sqlite", tmp / "gen")
            rows = args.size or DEFAULT_SIZE["W1"]
            log(f"data: {rows} rows (cached in {OUT / 'data'})")
            files = worker(gen_env, "gen", "gen", str(rows), str(OUT / "data"))
            files["xlsx_bytes"] = Path(files["xlsx"]).stat().st_size
        for db in dbs:
            env = Env(db, tmp / db)
            for w in workloads:
                size = args.size or DEFAULT_SIZE[w]
                if w in FILE_WORKLOADS:
                    out = {"W1": run_w1, "W2": run_w2}[w](env, size, files)
                elif w == "W3":
                    out = run_w3(env, size, files)
                elif w == "W7":
                    out = run_w7(env, size)
                elif w == "W9":
                    out = run_w9(env, args.persons or size)
                elif w == "W8":
                    out = run_w8(env, size, files, args)
                else:
                    out = {"W4": run_w4, "W5": run_w5, "W6": run_w6, "W10": run_w10, "SCALE": run_scale}[w](env, size, args)
                for text in out:
                    print(text, flush=True)
    if FAILURES:
        log(f"{len(FAILURES)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
