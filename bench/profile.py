"""Where a request's time goes, statement by statement: the profile issue 22 asks for when
W4/W5 stay under 0.6 of the floor.

    .venv/bin/python -m bench.profile [FLOOR W4 W5 W6] [--db sqlite|postgres] [-n 1000]

For each workload it makes the same data as bench/run does (the worker's setup step, on a
scratch database), then sends `-n` of that workload's requests one after the other through
the product's WSGI application in one process with the server's production settings
(bench.floor.settings, DEBUG off), with no HTTP server and no other thread: what is left is
the application's own cost of one request. It prints

* `cpu_ms`, `wall_ms`: CPU and wall time per request (the difference is mostly waiting for
  the database: PostgreSQL's round trips, SQLite's fsync);
* every SQL statement per request with its count and mean wall time inside the database
  driver's execute (round trip included), in the order of the request;
* the request's CPU by part (cProfile, inclusive time of the named functions, so the parts
  overlap where one calls another; `ms/req` is the profiler's time, about 1.5-2x the
  unprofiled CPU: compare the parts with one another, not with `cpu_ms`).

BENCH_PROFILE_DUMP=/tmp/p writes each workload's whole profile to /tmp/p.<workload>.prof
(for pstats: callers and callees of any function).

On SQLite the group commit is off here (FANGKONG_GROUP_COMMIT=0): its writer thread would
take the statements out of this thread's profile; the statements and their cost are the
same, one transaction a request instead of one a batch.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM = 50  # requests sent before any is measured: imports, caches, the connection

# The parts of a request named in the report: (label, a regular expression on cProfile's
# "file:line(function)" key). Inclusive times; a part may contain another.
PARTS = [
    ("whole request (WSGI handler)", r"django/core/handlers/wsgi\.py:\d+\(__call__\)"),
    ("middleware before the view", r"django/utils/deprecation\.py:\d+\(__call__\)"),
    ("session: load", r"django/contrib/sessions/backends/\w+\.py:\d+\(load\)"),
    ("user: get_user", r"django/contrib/auth/__init__\.py:\d+\(get_user\)"),
    ("CSRF check", r"django/middleware/csrf\.py:\d+\(process_view\)"),
    ("ninja: the operation (parse, auth, view, render)", r"ninja/operation\.py:\d+\(run\)"),
    ("ninja: payload parsing", r"ninja/operation\.py:\d+\(_get_values\)"),
    ("ninja: response", r"ninja/operation\.py:\d+\(_result_to_response\)"),
    ("fangkong: gate check-in (record_entry)", r"fangkong/gates/actions\.py:\d+\(record_entry\)"),
    ("fangkong: gate entry cleaned (clean_entry)", r"fangkong/gates/actions\.py:\d+\(clean_entry\)"),
    ("fangkong: the guard's checkpoints (_checkpoint)", r"fangkong/gates/actions\.py:\d+\(_checkpoint\)"),
    ("fangkong: the entry built (_build)", r"fangkong/gates/actions\.py:\d+\(_build\)"),
    ("fangkong: is the entrance closed (closure_of)", r"fangkong/gates/actions\.py:\d+\(closure_of\)"),
    ("fangkong: pass verified", r"fangkong/passes/\w+\.py:\d+\(verify\w*\)"),
    ("fangkong: temperature report", r"fangkong/observation/actions\.py:\d+\(report\w*\)"),
    ("fangkong: registration", r"fangkong/testing/actions\.py:\d+\(register\)"),
    ("fangkong: audit event prepared", r"fangkong/audit/actions\.py:\d+\(prepare\)"),
    ("fangkong: group_commit.write", r"fangkong/lib/db/group_commit\.py:\d+\(write\)"),
    ("fangkong: access (roles, scope)", r"fangkong/places/access\.py:\d+\((scope|scope_paths|roles_of|get_in_scope|_grants\w*|user_roles)\)"),
    ("SQL: every execute (driver + database)", r"django/db/backends/utils\.py:\d+\(_execute\)"),
    ("SQL: psycopg execute", r"psycopg/cursor\.py:\d+\(execute\)"),
    ("SQL: sqlite3 execute", r"\{method 'execute' of 'sqlite3\.Cursor' objects\}"),
    ("ORM: querysets evaluated (compile + execute + rows)", r"django/db/models/query\.py:\d+\(_fetch_all\)"),
    ("ORM: SQL compiled (as_sql)", r"django/db/models/sql/compiler\.py:\d+\(as_sql\)"),
    ("transaction commit", r"django/db/backends/base/base\.py:\d+\(commit\)"),
    ("JSON response encoding", r"ninja/renderers\.py:\d+\(render\)"),
]


def _normalize(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql).strip()
    sql = re.sub(r"'[^']*'", "?", sql)
    sql = re.sub(r'"s\d+_x\d+"', '"sN_xN"', sql)  # Django's savepoint names
    sql = re.sub(r"\b\d+\b", "N", sql)
    sql = re.sub(r"(%s|\?)(, (%s|\?))+", "?, ...", sql)
    return sql


def _requests(workload: str, setup: dict, n: int) -> list[tuple[str, str, bytes, dict]]:
    from bench.main import w4_checkins, w5_reports, w6_registrations

    if workload == "W4":
        _entry, checkin, _h = w4_checkins(setup)
        return [checkin(i) for i in range(n)]
    if workload == "W5":
        return w5_reports(n)
    if workload == "W6":
        _entry, registration, _h = w6_registrations(setup, 64)
        return [registration(i) for i in range(n)]
    if workload == "FLOOR":
        body = json.dumps({"temperature": "36.6"}).encode()
        return [("POST", "/bench/floor", body, {"Content-Type": "application/json"})] * n
    raise SystemExit(f"bench.profile: unknown workload {workload}")


def _environ(method: str, path: str, body: bytes, headers: dict) -> dict:
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
           "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000",
           "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
           "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
           "CONTENT_LENGTH": str(len(body))}
    for k, v in headers.items():
        if k.lower() == "content-type":
            env["CONTENT_TYPE"] = v
        else:
            env["HTTP_" + k.upper().replace("-", "_")] = v
    return env


def child(workload: str, setup: dict, n: int, expect: int) -> dict:
    """In the server's settings: warm up, then time, count statements and profile n requests."""
    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application
    from django.db.backends import utils

    app = get_wsgi_application()
    reqs = _requests(workload, setup, n + WARM)
    statuses: dict = {}

    def send(req) -> None:
        method, path, body, headers = req
        out = {}

        def start_response(status, hdrs, exc_info=None):
            out["status"] = int(status.split()[0])

        for _chunk in app(_environ(method, path, body, headers), start_response):
            pass
        statuses[out["status"]] = statuses.get(out["status"], 0) + 1

    for req in reqs[:WARM]:  # warm-up: imports, caches, the connection
        send(req)
    statuses.clear()
    measured = reqs[WARM:]

    # 1. Unprofiled: CPU and wall per request.
    half = measured[: n // 2]
    c0, w0 = time.process_time(), time.perf_counter()
    for req in half:
        send(req)
    cpu_ms = (time.process_time() - c0) * 1000 / len(half)
    wall_ms = (time.perf_counter() - w0) * 1000 / len(half)

    # 2. Statements: each execute timed (the driver's call, round trip included).
    stmts: dict[str, list] = {}
    order: list[str] = []
    original = utils.CursorWrapper._execute, utils.CursorWrapper._executemany

    def timed(kind):
        def wrapper(self, sql, params, *args):
            t = time.perf_counter()
            try:
                return original[kind](self, sql, params, *args)
            finally:
                key = _normalize(sql)
                if key not in stmts:
                    stmts[key] = [0, 0.0]
                    order.append(key)
                stmts[key][0] += 1
                stmts[key][1] += time.perf_counter() - t
        return wrapper

    rest = measured[n // 2:]
    utils.CursorWrapper._execute, utils.CursorWrapper._executemany = timed(0), timed(1)
    try:
        for req in rest[: len(rest) // 2]:
            send(req)
    finally:
        utils.CursorWrapper._execute, utils.CursorWrapper._executemany = original
    counted = len(rest) // 2

    # 3. cProfile of the remaining requests.
    profiled = rest[len(rest) // 2:]
    prof = cProfile.Profile()
    prof.enable()
    for req in profiled:
        send(req)
    prof.disable()
    if os.environ.get("BENCH_PROFILE_DUMP"):  # a prefix: the whole profile, for pstats or snakeviz
        prof.dump_stats(f"{os.environ['BENCH_PROFILE_DUMP']}.{workload}.prof")
    st = pstats.Stats(prof)
    parts = []
    for label, pattern in PARTS:
        rx = re.compile(pattern)
        total = 0.0
        for (file, line, func), (_cc, _nc, _tt, ct, _callers) in st.stats.items():
            if rx.search(f"{file}:{line}({func})"):
                total += ct
        if total:
            parts.append((label, total * 1000 / len(profiled)))
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
    top = [ln for ln in buf.getvalue().splitlines() if ln.strip()][-26:]
    if set(statuses) != {expect}:
        raise SystemExit(f"bench.profile {workload}: expected {expect} only, got {statuses}")
    return {"workload": workload, "n": n, "cpu_ms": cpu_ms, "wall_ms": wall_ms,
            "statements": [(k, stmts[k][0] / counted, stmts[k][1] * 1e6 / stmts[k][0]) for k in order],
            "parts": parts, "top": top}


def report(db: str, res: dict) -> str:
    lines = [f"== {res['workload']} {db}: {res['n']} requests, one at a time, in-process",
             f"cpu_ms={res['cpu_ms']:.2f} wall_ms={res['wall_ms']:.2f} "
             f"statements={sum(c for _k, c, _t in res['statements']):.1f}/request", "statements per request (count, mean µs in execute):"]
    for sql, count, us in res["statements"]:
        lines.append(f"  {count:5.2f} x {us:8.0f} µs  {sql[:150]}")
    lines.append("CPU by part (cProfile, inclusive, ms per request; profiled time):")
    for label, ms in res["parts"]:
        lines.append(f"  {ms:7.2f}  {label}")
    lines.append("top functions by own time (cProfile):")
    lines += ["  " + ln for ln in res["top"]]
    return "\n".join(lines)


# The worker's setup step of each workload (and its argument: the persons it needs, n + the
# warm-up) and the status every request must get.
SETUP_STEP = {"FLOOR": ("w4_setup", False, 201), "W4": ("w4_setup", False, 201), "W5": ("w5_setup", True, 201),
              "W6": ("w6_setup", True, 201)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench.profile", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", default=["FLOOR", "W4", "W5", "W6"], help="FLOOR, W4, W5, W6 (default all)")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("-n", type=int, default=1000, help="requests measured (a half unprofiled, a quarter counted, a quarter profiled)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(child(spec["workload"], spec["setup"], spec["n"], spec["expect"])))
        return 0

    from bench.main import PG_SCRATCH, Env, worker

    with tempfile.TemporaryDirectory(prefix="fangkong-profile-") as tmp:
        env = Env(args.db, Path(tmp))
        for workload in (w.upper() for w in args.workloads):
            step, counted, expect = SETUP_STEP.get(workload, (None, None, None))
            if step is None:
                ap.error(f"unknown workload {workload}: this profile knows {' '.join(SETUP_STEP)}")
            name = f"{PG_SCRATCH}_prof_{os.getpid()}"
            env.create_empty(name)
            try:
                setup = worker(env, name, step, *([str(args.n + WARM)] if counted else []))
                child_env = env.server_env(name, FANGKONG_GROUP_COMMIT="0")
                spec = json.dumps({"workload": workload, "setup": setup, "n": args.n, "expect": expect})
                proc = subprocess.run([sys.executable, "-m", "bench.profile", "--child", spec], cwd=ROOT, env=child_env,
                                      stdout=subprocess.PIPE, text=True)
                if proc.returncode != 0:
                    raise SystemExit(f"bench.profile {workload}: the child failed (exit {proc.returncode})")
                print(report(args.db, json.loads(proc.stdout.strip().splitlines()[-1])), flush=True)
            finally:
                env.drop(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
