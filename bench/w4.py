"""W4: gate check-in over HTTP against the real server (gunicorn on 127.0.0.1), 64
connections: POST /api/gates/entries (pass verify + pass status + one log row) versus the
trivial GET /healthz on the same server; then the batched sync of N offline entries
(POST /api/gates/entries/batch, 500 per request, as the gate page sends them).

Bounded: a fixed number of requests, each with a 30 s timeout; loopback only."""
from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

CONNECTIONS = 64


def task_setup() -> dict:
    """Schema, a compound, a guard with a signed-in session and CSRF token, a visitor pass."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.middleware.csrf import _get_new_csrf_string

    from fangkong.accounts.actions import add_grant
    from fangkong.passes.actions import issue_visitor_pass
    from fangkong.places.actions import create_place

    call_command("migrate", verbosity=0)
    street = create_place(acting_user=None, kind="street", name="基准街道", code="W4S", parent=None)
    comm = create_place(acting_user=None, kind="community", name="基准社区", code="W4C", parent=street)
    grid = create_place(acting_user=None, kind="grid", name="基准网格", code="W4G", parent=comm)
    compound = create_place(acting_user=None, kind="compound", name="基准小区", code="W4Y", parent=grid)
    user = get_user_model().objects.create(username="w4guard", first_name="w4guard")
    add_grant(acting_user=None, user=user, role="gate_guard", target=compound)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.set_expiry(3600)
    session.create()
    _pass, token = issue_visitor_pass(acting_user=None, name="基准访客", phone="13812345678", reason="bench",
                                      host_household=None, hours=72, place=compound)
    return {"place": compound.pk, "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
            "csrf": _get_new_csrf_string(), "token": token}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, root: Path, workers: int, threads: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    cmd = [str(gunicorn) if gunicorn.exists() else "gunicorn", "fangkong.wsgi:application", "--bind", f"127.0.0.1:{port}",
           "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread", "--backlog", "256",
           "--log-level", "warning", "--timeout", "60"]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("gunicorn did not start within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def load(port: int, total: int, make_request) -> dict:
    """`total` requests over CONNECTIONS keep-alive connections; latencies and throughput."""
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(total))

    def run():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            method, path, body, headers = make_request(i)
            t = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status < 300
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            mine.append(time.perf_counter() - t)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            lat.extend(mine)
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    lat.sort()
    return {"rps": len(lat) / seconds, "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000 if lat else 0,
            "p50_ms": statistics.median(lat) * 1000 if lat else 0, "errors": errors[0], "n": len(lat)}


def entry(setup: dict, offline: bool = False) -> dict:
    return {"client_id": str(uuid.uuid4()), "place": setup["place"], "direction": "in", "subject": "person",
            "token": setup["token"], "temperature": "36.5", "decision": "allowed", "offline": offline,
            "occurred_at": datetime.now(timezone.utc).isoformat()}


def headers(setup: dict) -> dict:
    return {"Content-Type": "application/json", "Cookie": f"{setup['cookie']}; csrftoken={setup['csrf']}",
            "X-CSRFToken": setup["csrf"], "Host": "127.0.0.1"}


def run(env: dict, root: Path, setup: dict, requests: int, sync_rows: int, workers: int = 2, threads: int = 8) -> dict:
    proc, port = start_server(env, root, workers, threads)
    try:
        hdr = headers(setup)
        load(port, 200, lambda i: ("GET", "/healthz", None, {"Host": "127.0.0.1"}))  # warm-up
        base = load(port, requests, lambda i: ("GET", "/healthz", None, {"Host": "127.0.0.1"}))
        gate = load(port, requests, lambda i: ("POST", "/api/gates/entries", json.dumps(entry(setup)), hdr))
        rows = [entry(setup, offline=True) for _ in range(sync_rows)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        t = time.perf_counter()
        stored = 0
        for i in range(0, len(rows), 500):
            conn.request("POST", "/api/gates/entries/batch", body=json.dumps({"entries": rows[i:i + 500]}), headers=hdr)
            resp = conn.getresponse()
            body = json.loads(resp.read())
            stored += body.get("stored", 0)
        sync_seconds = time.perf_counter() - t
        conn.close()
    finally:
        stop_server(proc)
    return {"base": base, "gate": gate, "sync": {"rows": sync_rows, "stored": stored, "seconds": sync_seconds}}
