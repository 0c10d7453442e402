"""Two servers, one system (issue 22, items 4 and 5): two app servers started as the
production units start them (deploy/systemd/*.service: `fangkong web`, `fangkong run_huey`),
on one PostgreSQL database and one Redis, behind HAProxy started from deploy/haproxy.cfg,
with two workers. Through the balancer (which answers with X-Fangkong-Server, the app server
that served) the system behaves as one server: a sign-in made on one is valid on the other,
rate limits count across both, the dashboard's closed days are one shared cache entry, an
import uploaded through one server is finished by a worker and its progress shown by both,
a notification raised by requests spread over both is delivered once, and a periodic task
enqueued by both workers' schedulers runs once.

PostgreSQL run only (one_database): it needs PostgreSQL, Redis (127.0.0.1:6379; an empty
Redis database of its own, emptied at the end) and haproxy; without the last two it skips,
unless FANGKONG_REQUIRE_SERVICES=1 (.ci/run installs and starts them, and sets it).
On the 2-core machine (2026-12-07): the database made from the session's migrated one, the
four processes and haproxy up in 11-13 s, the checks 4-6 s, about 22 s in all (plus the
session's one `fangkong migrate`, bench_migrated, shared with the bench tests)."""
from __future__ import annotations

import base64
import csv
import datetime as dt
import http.server
import io
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.machine import fresh_machine_env

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
pytestmark = [pytest.mark.django_db, pytest.mark.one_database("postgresql")]

PASSWORD = "cast-password-123"  # tests/cast.py
LOGIN_FAILURES = 3
VERIFY_MISSES = 4
DENIED_ALERT = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exec_start(unit: str, **subst) -> list[str]:
    """The unit's ExecStart as this checkout runs it: the venv's `fangkong` is this Python's
    `-m fangkong.cli`, `${VAR}` and `%i` substituted from `subst`."""
    line = next(x for x in (DEPLOY / "systemd" / unit).read_text().splitlines() if x.startswith("ExecStart="))
    for k, v in subst.items():
        line = line.replace(k, v)
    words = shlex.split(line[len("ExecStart="):])
    assert words[0] == "/opt/fangkong/venv/bin/fangkong", words
    return [sys.executable, "-m", "fangkong.cli", *words[1:]]


def _claim_redis_db():
    """An empty Redis database (15 down to 1), marked as this run's so a parallel run takes another."""
    import redis

    for n in range(15, 0, -1):
        r = redis.Redis(host="127.0.0.1", port=6379, db=n)
        if r.dbsize() == 0 and r.set("fangkong-two-servers-test", os.getpid(), nx=True, ex=900):
            if r.dbsize() == 1:
                return n, r
            r.delete("fangkong-two-servers-test")
    pytest.fail("no empty Redis database (1-15) at 127.0.0.1:6379")


class Robot:
    """A WeCom robot: records what it is sent."""

    def __init__(self):
        self.requests = []
        robot = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                robot.requests.append(json.loads(body))
                out = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/robot"


SETUP = """
import json, django
django.setup()
from tests.cast import build_cast
from fangkong.notify import actions
c = build_cast()
actions.create_channel(acting_user=None, name="robot", kind="wecom", place=c.street, target={robot!r}, kinds="access.*")
print(json.dumps({{"street": c.street.pk, "comm_a": c.comm_a.pk}}))
"""


@pytest.fixture
def system(bench_migrated, tmp_path):
    import psycopg

    import redis

    missing = [] if shutil.which("haproxy") else ["haproxy is not installed (apt-get install haproxy)"]
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    except redis.RedisError:
        missing.append("no Redis at 127.0.0.1:6379")
    if missing:  # CI (.ci/run installs and starts both) fails instead
        (pytest.fail if os.environ.get("FANGKONG_REQUIRE_SERVICES") == "1" else pytest.skip)("; ".join(missing))
    started = time.monotonic()
    base = urlsplit(os.environ["DATABASE_URL"])
    name = f"fangkong_two_servers_{os.getpid()}"

    def admin(sql):
        with psycopg.connect(urlunsplit(base._replace(path="/postgres")), autocommit=True) as conn:
            conn.execute(sql)

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}" TEMPLATE "{bench_migrated["FANGKONG_BENCH_MIGRATED_POSTGRES"]}"')
    db_url = urlunsplit(base._replace(path="/" + name))
    redis_db, r = _claim_redis_db()
    procs: list[tuple[str, subprocess.Popen, Path]] = []
    robot = Robot()
    try:
        lb, app1, app2 = _free_port(), _free_port(), _free_port()
        shared = tmp_path / "shared"
        env = dict(
            FANGKONG_ENV="production", DATABASE_URL=db_url, REDIS_URL=f"redis://127.0.0.1:6379/{redis_db}",
            FANGKONG_SECRET_KEY=secrets.token_urlsafe(40),
            FANGKONG_DATA_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
            FANGKONG_INDEX_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
            FANGKONG_ALLOWED_HOSTS="127.0.0.1", FANGKONG_PUBLIC_URL=f"http://127.0.0.1:{lb}",
            FANGKONG_SECURE_COOKIES="0", FANGKONG_PROXY_HOPS="1", FANGKONG_SHARED_DIR=str(shared),
            FANGKONG_LOGIN_MAX_FAILURES=str(LOGIN_FAILURES), FANGKONG_VERIFY_MISS_RATE=f"{VERIFY_MISSES}/600",
            FANGKONG_DENIED_ALERT_COUNT=str(DENIED_ALERT), PYTHONUNBUFFERED="1",
        )

        def start(label, argv, **extra):
            var = tmp_path / label  # each process a var directory of its own: nothing shared through it
            log = tmp_path / f"{label}.log"
            p = subprocess.Popen(argv, env=fresh_machine_env(var, **env, **extra), cwd=ROOT, stdout=open(log, "wb"),
                                 stderr=subprocess.STDOUT, start_new_session=True)
            procs.append((label, p, log))
            return p

        out = subprocess.run([sys.executable, "-c", SETUP.format(robot=robot.url)], cwd=ROOT, capture_output=True, text=True,
                             env=fresh_machine_env(tmp_path / "setup", **env, DJANGO_SETTINGS_MODULE="fangkong.settings"),
                             timeout=120)
        assert out.returncode == 0, out.stderr[-3000:]
        places = json.loads(out.stdout.strip().splitlines()[-1])
        # Both workers' schedulers start within one minute, so both enqueue the minute's periodic tasks.
        if dt.datetime.now().second > 45:
            time.sleep(61 - dt.datetime.now().second)
        for label in ("worker1", "worker2"):
            start(label, _exec_start("fangkong-worker.service"))
        for label, port in (("app1", app1), ("app2", app2)):
            # One gunicorn worker each instead of the unit's two (this machine has two cores).
            argv = _exec_start("fangkong-web@.service", **{"${FANGKONG_BIND_HOST}": "127.0.0.1", "%i": str(port)})
            argv[argv.index("--web-workers") + 1] = "1"
            start(label, argv)
        start("haproxy", ["haproxy", "-db", "-f", str(DEPLOY / "haproxy.cfg")],
              FANGKONG_LB_BIND=f"127.0.0.1:{lb}", FANGKONG_APP1=f"127.0.0.1:{app1}", FANGKONG_APP2=f"127.0.0.1:{app2}",
              FANGKONG_HEALTH_HOST="127.0.0.1")
        import requests

        seen = set()
        deadline = time.monotonic() + 60
        while seen != {"app1", "app2"}:
            for label, p, log in procs:
                assert p.poll() is None, f"{label} ended: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "the app servers did not both answer through the balancer"
            try:
                resp = requests.get(f"http://127.0.0.1:{lb}/healthz", timeout=2)
                if resp.status_code == 200:
                    seen.add(resp.headers.get("X-Fangkong-Server"))
            except requests.RequestException:
                pass
            time.sleep(0.2)
        print(f"system up in {time.monotonic() - started:.1f} s")
        yield {"url": f"http://127.0.0.1:{lb}", "places": places, "robot": robot, "redis": r, "redis_url": env["REDIS_URL"],
               "db_url": db_url, "shared": shared, "procs": procs}
    finally:
        for _label, p, _log in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for _label, p, _log in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        robot.server.shutdown()
        r.flushdb()  # the database this run claimed empty
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"total {time.monotonic() - started:.1f} s")


class Browser:
    """A person's browser through the balancer: cookies kept, CSRF token sent, and the app
    server of every answer noted."""

    def __init__(self, base):
        import requests

        self.base = base
        self.s = requests.Session()
        self.s.trust_env = False
        self.servers = []

    def _note(self, resp):
        self.servers.append(resp.headers.get("X-Fangkong-Server"))
        return resp

    def get(self, path, **kw):
        return self._note(self.s.get(self.base + path, allow_redirects=False, timeout=30, **kw))

    def post(self, path, data=None, **kw):
        token = self.s.cookies.get("csrftoken")
        if token is None:
            self.get("/login/")
            token = self.s.cookies.get("csrftoken")
        return self._note(self.s.post(self.base + path, data={**(data or {}), "csrfmiddlewaretoken": token},
                                      headers={"Referer": self.base + path}, allow_redirects=False, timeout=30, **kw))

    def sign_in(self, username, password=PASSWORD):
        self.get("/login/")
        return self.post("/login/", {"username": username, "password": password})


def _wait(what, check, seconds=20):
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_two_servers_behave_as_one(system):
    t0 = time.monotonic()
    url, places = system["url"], system["places"]
    marks = []

    def mark(what):
        marks.append(f"{what} {time.monotonic() - t0:.1f}")

    # --- Sign-in on one server is valid on the other (the session is in the database).
    commander = Browser(url)
    assert commander.sign_in("commander").status_code == 302
    signed_on = commander.servers[-1]
    pages = [commander.get(f"/dashboard/{places['street']}/") for _ in range(4)]
    assert all(p.status_code == 200 for p in pages), [p.status_code for p in pages]
    assert set(commander.servers[-4:]) == {"app1", "app2"}, commander.servers
    assert signed_on in ("app1", "app2")
    mark("sign-in")

    # --- Rate limits count across both: unknown verify codes per client address...
    anon = Browser(url)
    codes = [anon.get(f"/v/{secrets.token_hex(6)}/").status_code for _ in range(VERIFY_MISSES + 1)]
    assert codes[:VERIFY_MISSES] == [404] * VERIFY_MISSES and codes[VERIFY_MISSES] == 429, codes
    assert set(anon.servers[:VERIFY_MISSES]) == {"app1", "app2"}
    # ...and wrong passwords per account and address: the right one is refused after the limit.
    intruder = Browser(url)
    fails = [intruder.sign_in("committee_b", "wrong-password-0") for _ in range(LOGIN_FAILURES)]
    # (the Nth failure is answered with the lock itself: fangkong/accounts/actions.py)
    assert [f.status_code for f in fails] == [401] * (LOGIN_FAILURES - 1) + [429], [f.status_code for f in fails]
    assert {"app1", "app2"} <= set(intruder.servers)
    locked = intruder.sign_in("committee_b")
    assert locked.status_code == 429 and "sessionid" not in intruder.s.cookies, locked.status_code
    mark("rate limits")

    # --- The dashboard's closed days: one shared entry, read by both servers.
    past_day = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    page = f"/dashboard/{places['street']}/?day={past_day}"
    assert commander.get(page).status_code == 200
    from django.core.cache.backends.redis import RedisCache

    shared = RedisCache(system["redis_url"], {"KEY_PREFIX": "fangkong"})
    keys = [k.decode().split(":", 2)[2] for k in system["redis"].keys(f"fangkong:1:dashboard:{past_day}:*")]
    assert keys, "the dashboard's closed day is not in the shared cache"
    for k in keys:  # an entry only the shared cache has: a server that computed its own would not show it
        entry = shared.get(k)
        shared.set(k, {pk: {m: 97531 for m in figs} for pk, figs in entry.items()}, 600)
    bodies = [commander.get(page) for _ in range(2)]
    assert {b.headers["X-Fangkong-Server"] for b in bodies} == {"app1", "app2"}
    assert all("97531" in b.text for b in bodies)
    mark("dashboard cache")

    # --- An import uploaded through one server, finished by a worker, its progress on both.
    from tests.cast import make_id, make_phone

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["姓名", "身份证号", "联系电话", "住址", "网格", "人员类别"])
    rows = 30
    for i in range(rows):
        w.writerow(["两台" + "甲乙丙丁戊己庚辛壬癸"[i % 10] + "一二三"[i // 10], make_id(i, born="19910203"), make_phone(7000 + i), "甲一小区2号楼201室", "A1", ""])
    import psycopg

    with psycopg.connect(system["db_url"]) as conn:
        people_before = conn.execute("SELECT count(*) FROM residents_person").fetchone()[0]
    committee = Browser(url)
    assert committee.sign_in("committee_a").status_code == 302
    committee.get("/residents/import/")
    resp = committee.post("/residents/import/", {"place": places["comm_a"]},
                          files={"file": ("居民.csv", buf.getvalue().encode("utf-8-sig"), "text/csv")})
    assert resp.status_code == 302, resp.text[-2000:]
    job_path = urlsplit(resp.headers["Location"]).path
    job_id = int(job_path.rstrip("/").rsplit("/", 1)[1])
    stored = list((system["shared"] / "imports").iterdir())
    assert len(stored) == 1  # in the shared directory, not the server's var directory
    form = committee.get(job_path).text
    mapping = {}
    for m in re.finditer(r'<select[^>]*name="(col_\d+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option[^>]*value="([^"]*)"[^>]*selected', m[2])
        mapping[m[1]] = chosen[1] if chosen else ""
    assert mapping.get("col_0") == "name", mapping
    assert committee.post(f"{job_path}start/", mapping).status_code == 302
    progress = []

    def done():
        resp = committee.get(f"{job_path}progress/")
        progress.append((resp.headers["X-Fangkong-Server"], resp.status_code, 'value="100"' in resp.text))
        return {s for s, status, full in progress if status == 200 and full} == {"app1", "app2"}

    _wait("the import to finish, shown by both servers", done, 30)

    with psycopg.connect(system["db_url"]) as conn:
        job = conn.execute("SELECT status, processed_rows, error_count FROM residents_importjob WHERE id = %s",
                           [job_id]).fetchone()
        people = conn.execute("SELECT count(*) FROM residents_person").fetchone()[0]
    assert job == ("done", rows, 0)
    assert people == people_before + rows
    mark("import")

    # --- A notification: refusals spread over both servers raise one alert, delivered once.
    worker = Browser(url)
    assert worker.sign_in("worker_a1").status_code == 302
    refused = [worker.get("/notify/channels/").status_code for _ in range(DENIED_ALERT)]
    assert refused == [403] * DENIED_ALERT
    assert {"app1", "app2"} <= set(worker.servers[-DENIED_ALERT:])
    robot = system["robot"]
    _wait("the robot to receive the alert", lambda: robot.requests, 20)
    time.sleep(1)
    assert len(robot.requests) == 1, robot.requests
    assert str(DENIED_ALERT) in json.dumps(robot.requests[0], ensure_ascii=False)
    mark("notification")

    # --- A periodic task enqueued by both workers' schedulers runs once per period.
    def claims():
        text = "\n".join(log.read_text(errors="replace") for label, _p, log in system["procs"] if label.startswith("worker"))
        return re.findall(r"periodic task (fangkong\.notify\.tasks\.requeue_due_deliveries): period (\S+) (claimed|skipped)",
                          text)

    found = _wait("both workers to run the minute's periodic task", lambda: len(claims()) >= 2 and claims(), 20)
    periods = {}
    for _name, period, outcome in found:
        periods.setdefault(period, []).append(outcome)
    assert all(outcomes.count("claimed") == 1 for outcomes in periods.values()), periods
    assert any(sorted(outcomes) == ["claimed", "skipped"] for outcomes in periods.values()), periods
    mark("periodic")
    print("seconds:", ", ".join(marks))
