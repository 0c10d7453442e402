"""W6 through the bench's HTTP harness (bench/run W6): the registrar's registrations are
all stored and audited, no tube over capacity, measured against the floor of a durable
write on the same server; then the offline batch sync is reported in rows/s."""
from __future__ import annotations

from tests.test_bench_http import _check, _run


def test_bench_w6_end_to_end(bench_migrated):
    """With the paced run's default rate: half the floor's rate measured in the same run,
    at most --paced-max (30 here, so that few requests are prepared); every registration
    sent, the paced run's included, stored (bench/main checks the count, else FAILED)."""
    db, lines = _run(bench_migrated, "W6", "--sync-rows", "600", paced=("--paced-max", "30"))
    assert len(lines) == 2, lines
    line = lines[0].replace("W6 ", "W4 ", 1)  # the line's shape is W4's
    extra = _check(line, "W4", db, paced_rate=None)
    assert abs(float(extra["paced_rate"]) - min(int(extra["floor"]) / 2, 30)) <= 1  # (the line's floor is rounded)
    assert int(extra["registrations"]) > 0
    sync = dict(kv.split("=", 1) for kv in lines[1].split()[2:])
    assert lines[1].startswith(f"W6-sync {db} ") and sync["size"] == sync["stored"] == "600" and "ok" not in sync
