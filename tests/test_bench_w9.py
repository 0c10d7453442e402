"""W9 (a testing day: registrations in 10-in-1 tubes, sealed and resulted, then the coverage
per building vs one hand-written SQL) end to end at a tiny size, so the workload cannot
silently rot: it loads the rows, runs the module's sync and result rows on a sample, checks
that the module's coverage per building is the SQL's, and prints its line."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = 2000

LINE = re.compile(r"^W9 (sqlite|postgres) ratio=(\d+\.\d\d) value=(\d+\.\d{3}) baseline=(\d+\.\d{3}) unit=s size=(\d+)"
                  r" buildings=(\d+) tested=(\d+) must=(\d+) load_rows_per_s=(\d+) sync_rows_per_s=(\d+)"
                  r" result_rows_per_s=(\d+)$")


def test_bench_w9_tiny():
    url = os.environ.get("DATABASE_URL", "")
    db = "postgres" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGKONG_")}
    proc = subprocess.run([sys.executable, "-m", "bench.main", "W9", "--db", db, "--persons", str(SIZE)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    m = LINE.match(lines[0])
    assert m, lines[0]
    assert m.group(1) == db and int(m.group(5)) == SIZE
    assert float(m.group(3)) > 0 and float(m.group(4)) > 0
    # 141 grids + 8 compounds get a building each; every 20th person is not loaded, half of
    # those are registered through the module's sync: 1900 + 50 of 2000 tested.
    assert int(m.group(6)) == 149 and (int(m.group(7)), int(m.group(8))) == (1950, SIZE)
    assert all(int(m.group(i)) > 0 for i in (9, 10, 11))
    assert "FAILED" not in proc.stderr
