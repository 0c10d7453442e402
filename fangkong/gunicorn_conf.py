"""Gunicorn configuration of the web server, used by `fangkong run` and by the benchmark's
server (bench/http_harness.py), so what is measured is what runs.

gthread workers: keep-alive connections are held by a worker's poller and served by its
threads. On SQLite the threads of a worker hand their writes to one writer thread that
commits them together (fangkong/lib/db/group_commit.py), so a worker needs enough threads
for several requests to be waiting on one commit; a thread waiting there holds no CPU.

The interpreter's switch interval is lowered from 5 ms to 1 ms in each worker: a thread
that released the GIL for a database call (the writer thread, several times per job)
otherwise waits up to 5 ms to get it back from a thread busy parsing a request.
"""
import sys

WORKERS = 2
THREADS = 16
SWITCH_INTERVAL = 0.001

worker_class = "gthread"
workers = WORKERS
threads = THREADS
keepalive = 75  # seconds; longer than a gate page's pause between scans
timeout = 120
graceful_timeout = 10


def post_fork(server, worker):
    sys.setswitchinterval(SWITCH_INTERVAL)
