"""W7 (the daily report vs one SQL GROUP BY) end to end at a tiny size, so the workload
cannot silently rot: it loads the rows, runs both, checks that the report counted the same
rows as the SQL, and prints its line."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = 2000

LINE = re.compile(r"^W7 (sqlite|postgres) ratio=(\d+\.\d\d) value=(\d+\.\d{3}) baseline=(\d+\.\d{3}) unit=s size=(\d+)"
                  r" metrics=(\d+) places=(\d+)$")


def run_tiny(bench_migrated: dict, *args) -> tuple[str, list[str], str]:
    """`bench/run <args> --db <this run's database>` in a subprocess: (db, its output lines,
    its log on stderr). Each scratch database starts from the session's migrated one
    (conftest.bench_migrated)."""
    url = os.environ.get("DATABASE_URL", "")
    db = "postgres" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGKONG_")}
    env.update(bench_migrated)
    proc = subprocess.run([sys.executable, "-m", "bench.main", *args, "--db", db], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return db, proc.stdout.strip().splitlines(), proc.stderr


def test_bench_w7_tiny(bench_migrated):
    db, lines, log = run_tiny(bench_migrated, "W7", "--size", str(SIZE))
    assert len(lines) == 1, lines
    m = LINE.match(lines[0])
    assert m, lines[0]
    assert m.group(1) == db and int(m.group(5)) == SIZE
    value, baseline = float(m.group(3)), float(m.group(4))
    assert value > 0 and baseline > 0
    assert int(m.group(6)) >= 19 and int(m.group(7)) == 162  # every registered metric, the whole demo tree
    # the report's gate entries + temperature reports of the day = the SQL's count of the same rows
    assert re.search(r"day \S+: (\d+) gate entries, (\d+) reports", log)
    assert "FAILED" not in log
