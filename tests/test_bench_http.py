"""The HTTP harness of the benchmark end to end at a tiny size, so it cannot silently rot:
`bench/run W5` starts the production server (gunicorn) on a scratch database of the run's
kind (a temporary SQLite file, or a scratch PostgreSQL database on the server of
DATABASE_URL), posts temperature reports over keep-alive connections and checks that
every report was stored."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE, CONC = 50, 4

LINE = re.compile(
    r"^W5 (sqlite|postgres) ratio=(\d+\.\d\d) value=(\d+) baseline=(\d+) unit=req/s size=(\d+) conc=(\d+) "
    r"p99_ms=(\d+\.\d) baseline_p99_ms=(\d+\.\d)( \w+=\S+)*$"
)


def test_bench_w5_end_to_end():
    url = os.environ.get("DATABASE_URL", "")
    db = "postgres" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGKONG_")}
    proc = subprocess.run([sys.executable, "-m", "bench.main", "W5", "--db", db, "--size", str(SIZE), "--conc", str(CONC),
                           "--max-seconds", "60"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    m = LINE.match(lines[0])
    assert m, lines[0]
    assert m.group(1) == db and int(m.group(5)) == SIZE and int(m.group(6)) == CONC
    value, baseline = int(m.group(3)), int(m.group(4))
    assert value > 0 and baseline > 0
    assert abs(float(m.group(2)) - value / baseline) < 0.02  # ratio = value / baseline (both rounded)
    extra = dict(kv.split("=", 1) for kv in lines[0].split()[10:])
    assert int(extra["reports"]) == SIZE + CONC  # measured requests + one warm-up per connection, all stored
    assert "ok" not in extra and "FAILED" not in proc.stderr


def test_healthz_answers_ok_without_a_query(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.content == b"ok"
    assert resp["Content-Type"].startswith("text/plain")
    assert client.post("/healthz").status_code == 405
