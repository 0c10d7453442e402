"""The HTTP harness of the benchmark (W4, W5; bench/main.py measure_http): the real
production server and a load generator.

    with Server(env, workers=2, threads=16, log_path=...) as srv:
        base = srv.load(lambda i: ("GET", "/healthz", None, {}), total=5000, conc=64, expect=200)
        res = srv.load(make_request, total=5000, conc=64, expect=201, warmup_base=5000)

Server: `gunicorn fangkong.wsgi:application`, gthread workers (as `fangkong run` starts it
in production: keep-alive connections are held by a worker's poller and served by its
threads; a sync worker would serve one connection at a time and close it after each
response, so C keep-alive clients would measure connection set-up and queueing instead).
The listening socket is bound here on 127.0.0.1, port 0, and handed to gunicorn as
fd://N, so there is no race for a free port with other runs on the machine.

Load generator: standard library only, C threads, each with one keep-alive
http.client connection. Each connection first sends `warmup` requests (indices from
warmup_base on; workers load the URLconf, open their database connection), then all
start together; request indices 0..total-1 are handed out from a shared counter, so each
index is sent exactly once. Per-request latency is the time from sending the request to
having read the whole response, measured in the client (so it includes the client's own
GIL waits on a busy machine: compare against the baseline of the same run).
"""
from __future__ import annotations

import http.client
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"


@dataclass
class LoadResult:
    total: int                     # requests asked for
    done: int                      # requests answered with the expected status
    seconds: float                 # wall time of the measured phase
    latencies_ms: list[float]      # of every answered request (expected status or not)
    statuses: dict[int, int]       # status -> count
    errors: list[str] = field(default_factory=list)  # first few unexpected answers / exceptions
    retries: int = 0               # requests re-sent on a fresh connection after the old one was closed
    timed_out: bool = False

    @property
    def rps(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        """Nearest-rank percentile of the latencies in ms."""
        return percentile(self.latencies_ms, p)

    @property
    def ok(self) -> bool:
        return self.done == self.total and not self.timed_out

    def summary(self) -> str:
        return (f"{self.done}/{self.total} in {self.seconds:.2f}s = {self.rps:.0f} req/s, "
                f"p50 {self.pct(50):.1f} ms, p99 {self.pct(99):.1f} ms, p99.9 {self.pct(99.9):.1f} ms, "
                f"max {max(self.latencies_ms, default=0.0):.1f} ms, statuses {dict(sorted(self.statuses.items()))}"
                + (f", retries {self.retries}" if self.retries else "") + (", TIMED OUT" if self.timed_out else ""))


def percentile(values, p: float) -> float:
    """Nearest-rank percentile of `values` (0.0 if there are none)."""
    lat = sorted(values)
    if not lat:
        return 0.0
    return lat[max(0, min(len(lat) - 1, int(-(-p * len(lat) // 100)) - 1))]


class Pooled:
    """Several runs of the same requests read as one (a baseline or the floor measured
    before and after a workload): the mean of their rates, the percentiles of all their
    latencies."""

    def __init__(self, runs: list[LoadResult]):
        self.runs = runs

    @property
    def rps(self) -> float:
        return sum(r.rps for r in self.runs) / len(self.runs)

    @property
    def retries(self) -> int:
        return sum(r.retries for r in self.runs)

    def pct(self, p: float) -> float:
        return percentile([x for r in self.runs for x in r.latencies_ms], p)


# A request: (method, path, body bytes or None, headers).
Request = tuple[str, str, "bytes | None", dict]

_RECONNECT = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest)


def load(port: int, make_request, *, total: int, conc: int, expect: int, warmup: int = 1, warmup_base: int | None = None,
         max_seconds: float = 300.0, timeout: float = 30.0, rate: float | None = None) -> LoadResult:
    """Send `total` requests over `conc` keep-alive connections (see the module doc).
    Bounded: stops handing out requests after max_seconds (the result is then timed_out).

    rate: paced instead of as fast as possible: request i is due at start + i/rate, sent by
    the connection that takes it (waiting until it is due), and its latency counts from
    when it was due, so time spent waiting for a free connection counts too (no
    coordinated omission)."""
    warmup_base = total if warmup_base is None else warmup_base
    counter = itertools.count()  # next() is atomic under the GIL
    lock = threading.Lock()
    statuses: dict[int, int] = {}
    errors: list[str] = []
    lat_all: list[list[float]] = []
    state = {"done": 0, "retries": 0, "timed_out": False, "deadline": 0.0}
    clock = time.perf_counter

    def go():  # run by the last thread to reach the barrier, before any is released
        state["t0"] = clock()
        state["deadline"] = state["t0"] + max_seconds

    ready = threading.Barrier(conc + 1, action=go, timeout=max(60.0, timeout * 2))

    def note_error(msg: str):
        with lock:
            if len(errors) < 5:
                errors.append(msg)

    def send(conn_box, req: Request):
        """One request on the thread's connection; reconnects once if the server had closed it."""
        method, path, body, headers = req
        for attempt in (0, 1):
            conn = conn_box[0]
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    conn.close()
                    conn_box[0] = http.client.HTTPConnection(HOST, port, timeout=timeout)
                return resp.status, data
            except _RECONNECT:
                conn.close()
                conn_box[0] = http.client.HTTPConnection(HOST, port, timeout=timeout)
                if attempt:
                    raise
                with lock:
                    state["retries"] += 1

    def client(k: int):
        conn_box = [http.client.HTTPConnection(HOST, port, timeout=timeout)]
        lat: list[float] = []
        local_status: dict[int, int] = {}
        done = 0
        try:
            for w in range(warmup):
                status, data = send(conn_box, make_request(warmup_base + k * warmup + w))
                if status != expect:
                    note_error(f"warm-up: {status} {data[:200]!r}")
        except Exception as exc:  # noqa: BLE001 - reported, the run fails below
            note_error(f"warm-up: {type(exc).__name__}: {exc}")
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            return
        try:
            while True:
                i = next(counter)
                if i >= total:
                    break
                if clock() > state["deadline"]:
                    state["timed_out"] = True
                    break
                req = make_request(i)
                if rate:
                    t0 = state["t0"] + i / rate
                    pause = t0 - clock()
                    if pause > 0:
                        time.sleep(pause)
                else:
                    t0 = clock()
                try:
                    status, data = send(conn_box, req)
                except Exception as exc:  # noqa: BLE001
                    note_error(f"request {i}: {type(exc).__name__}: {exc}")
                    local_status[-1] = local_status.get(-1, 0) + 1
                    continue
                lat.append((clock() - t0) * 1000.0)
                local_status[status] = local_status.get(status, 0) + 1
                if status == expect:
                    done += 1
                else:
                    note_error(f"request {i}: {status} {data[:200]!r}")
        finally:
            conn_box[0].close()
            with lock:
                lat_all.append(lat)
                state["done"] += done
                for s, n in local_status.items():
                    statuses[s] = statuses.get(s, 0) + n

    threads = [threading.Thread(target=client, args=(k,), name=f"load-{k}", daemon=True) for k in range(conc)]
    for t in threads:
        t.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        raise SystemExit(f"load: the {conc} connections did not all finish their warm-up: {errors}") from None
    for t in threads:
        t.join(timeout=max_seconds + timeout + 30)
    seconds = clock() - state["t0"]
    if any(t.is_alive() for t in threads):
        state["timed_out"] = True
    return LoadResult(total=total, done=state["done"], seconds=seconds,
                      latencies_ms=[x for lat in lat_all for x in lat], statuses=statuses, errors=errors,
                      retries=state["retries"], timed_out=state["timed_out"])


class Server:
    """The production web server on a scratch database, for the time of a `with` block."""

    def __init__(self, env: dict, *, workers: int, threads: int, log_path: Path, start_timeout: float = 90.0):
        self.env, self.workers, self.threads = env, workers, threads
        self.log_path, self.start_timeout = Path(log_path), start_timeout
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> "Server":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        sock.listen(2048)
        self.port = sock.getsockname()[1]
        fd = sock.fileno()
        # The configuration of `fangkong run` (fangkong/gunicorn_conf.py: gthread, keep-alive 75 s,
        # longer than any pause of the bench), with the workers and threads asked for.
        cmd = [sys.executable, "-m", "gunicorn", "fangkong.wsgi:application", "-c", "python:fangkong.gunicorn_conf",
               "--bind", f"fd://{fd}", "--workers", str(self.workers), "--threads", str(self.threads),
               "--log-level", "warning", "--error-logfile", "-"]
        self.log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, pass_fds=(fd,),
                                         start_new_session=True)
        finally:
            sock.close()  # gunicorn holds its own copy
        return self._ready()

    def _ready(self):
        """Self once it answers (_wait_ready); stopped if it never does."""
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
            try:
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                body = resp.read()
                if resp.status == 200 and body == b"ok":
                    return
                last = f"{resp.status} {body[:200]!r}"
            except OSError as exc:
                last = f"{type(exc).__name__}: {exc}"
            finally:
                conn.close()
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer /healthz within {self.start_timeout:.0f}s (last: {last}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            self.log.flush()
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def load(self, make_request, **kwargs) -> LoadResult:
        return load(self.port, make_request, **kwargs)

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # graceful: the master stops its workers, then exits
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # Still not reaped, so its process group (this server only) is still ours to end.
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.log.close()
        self.proc = None

    def __exit__(self, *exc) -> None:
        self.stop()


class Balancer(Server):
    """HAProxy from the repository's own configuration (deploy/haproxy.cfg, as deployed) in
    front of app servers given as ports, on a free port of 127.0.0.1, for the time of a
    `with` block (stopped, logged and loaded as a Server). The configuration names two
    servers: with one port, both lines point at the same server (one app server behind the
    same proxy)."""

    CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "haproxy.cfg"

    def __init__(self, ports: list[int], *, log_path: Path, start_timeout: float = 30.0):
        if not 1 <= len(ports) <= 2:
            raise ValueError("deploy/haproxy.cfg balances one or two app servers")
        self.ports, self.log_path, self.start_timeout = list(ports), Path(log_path), start_timeout
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> "Balancer":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))
        self.port = sock.getsockname()[1]
        sock.close()  # haproxy binds it itself (a race with another process is unlikely and fails loudly)
        apps = [f"{HOST}:{p}" for p in (self.ports * 2)[:2]]
        env = dict(os.environ, FANGKONG_LB_BIND=f"{HOST}:{self.port}", FANGKONG_APP1=apps[0], FANGKONG_APP2=apps[1],
                   FANGKONG_HEALTH_HOST=HOST)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(self.CONFIG)], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self._ready()

    def _wait_ready(self) -> None:
        """Until both server lines have answered /healthz through the proxy (its health
        checks have marked them up)."""
        deadline = time.monotonic() + self.start_timeout
        seen: set[str] = set()
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"haproxy exited with {self.proc.returncode}:\n{self.log_tail()}")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
            try:
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    seen.add(resp.getheader("X-Fangkong-Server") or "")
                    if len(seen) >= 2:  # both lines up (with one app server, both point at it)
                        return
                last = f"{resp.status}"
            except OSError as exc:
                last = f"{type(exc).__name__}: {exc}"
            finally:
                conn.close()
            time.sleep(0.1)
        raise SystemExit(f"haproxy did not reach its app servers within {self.start_timeout:.0f}s (last: {last})")


def _run_seconds(p: int) -> float | None:
    """Time on a CPU of process `p`'s threads (their schedstat, in nanoseconds), or None
    where the kernel does not keep it. The clock ticks of /proc/<pid>/stat count in 10 ms
    steps: a proxy's CPU over a short run (HAProxy: about 0.3 ms a request) could read 0."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{p}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{p}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:  # the thread ended since the listing (its time goes with it)
            continue
        except (OSError, IndexError, ValueError):
            return None
    return total / 1e9


def process_cpu_seconds(pid: int, children: bool = True) -> float:
    """CPU time (user + system) of process `pid` and, with `children`, of the processes
    in its process group that are alive (gunicorn's workers), from /proc: the threads' time
    on a CPU in nanoseconds where the kernel keeps it (servers whose threads live as long as
    they do), else the process's clock ticks."""
    tick = os.sysconf("SC_CLK_TCK")

    def one(p: int) -> tuple[float, int]:
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        seconds = _run_seconds(p)
        if seconds is None:
            seconds = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return seconds, int(fields[2])  # pgrp

    try:
        total, group = one(pid)
    except OSError:
        return 0.0
    if children:
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != pid:
                try:
                    seconds, pgrp = one(int(entry))
                except (OSError, IndexError, ValueError):
                    continue
                if pgrp == group:
                    total += seconds
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat: the difference of two
    readings gives the machine's busy share over that time."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return float(sum(values) - idle), float(sum(values))


class CpuMeter:
    """Where the CPU went during a `with` block: `groups` maps a name to process ids (each
    with its process group: a gunicorn master and its workers); besides them, this process
    (the load generator: client) and the rest of the machine (other: the database, and
    anything else running). per_request(n) gives each in CPU milliseconds per request, and
    busy, the share of all cores in use."""

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups

    def _read(self):
        # this process's CPU time to the nanosecond (os.times() counts 10 ms ticks)
        return (machine_busy(), {k: sum(process_cpu_seconds(p) for p in pids) for k, pids in self.groups.items()},
                time.process_time())

    def __enter__(self) -> "CpuMeter":
        self.start = self._read()
        return self

    def __exit__(self, *exc) -> None:
        self.end = self._read()

    def per_request(self, n: int) -> dict[str, float]:
        (b0, t0), g0, me0 = self.start
        (b1, t1), g1, me1 = self.end
        tick = os.sysconf("SC_CLK_TCK")
        spent = {k: g1[k] - g0[k] for k in self.groups}
        spent["client"] = me1 - me0
        spent["other"] = max(0.0, (b1 - b0) / tick - sum(spent.values()))
        out = {f"{k}_ms": 1000 * v / n if n else 0.0 for k, v in spent.items()}
        out["busy"] = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
        return out
