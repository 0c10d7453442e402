"""W9 (a testing day: registrations in 10-in-1 tubes, sealed and resulted, then the coverage
per building vs one hand-written SQL) end to end at a tiny size, so the workload cannot
silently rot: it loads the rows, runs the module's sync and result rows on a sample, checks
that the module's coverage per building is the SQL's, and prints its line."""
import re

from tests.test_bench_w7 import run_tiny

SIZE = 2000

LINE = re.compile(r"^W9 (sqlite|postgres) ratio=(\d+\.\d\d) value=(\d+\.\d{3}) baseline=(\d+\.\d{3}) unit=s size=(\d+)"
                  r" buildings=(\d+) tested=(\d+) must=(\d+) load_rows_per_s=(\d+) sync_rows_per_s=(\d+)"
                  r" result_rows_per_s=(\d+)$")


def test_bench_w9_tiny(bench_migrated):
    db, lines, log = run_tiny(bench_migrated, "W9", "--persons", str(SIZE))
    assert len(lines) == 1, lines
    m = LINE.match(lines[0])
    assert m, lines[0]
    assert m.group(1) == db and int(m.group(5)) == SIZE
    assert float(m.group(3)) > 0 and float(m.group(4)) > 0
    # 141 grids + 8 compounds get a building each; every 20th person is not loaded, half of
    # those are registered through the module's sync: 1900 + 50 of 2000 tested.
    assert int(m.group(6)) == 149 and (int(m.group(7)), int(m.group(8))) == (1950, SIZE)
    assert all(int(m.group(i)) > 0 for i in (9, 10, 11))
    assert "FAILED" not in log
