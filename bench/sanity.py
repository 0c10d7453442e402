"""Behaviour check of the importer on a few thousand synthetic rows (not a benchmark).

    bench/run --sanity [--size N] [--db sqlite|postgres]     (default 5,000 rows)

Imports the same CSV twice (the second run must change nothing), then a file with an ID
repeated in another batch and a few bad rows (the errors must name the right rows), then
the XLSX of the same rows; each import runs in small batches so rows cross batches.
"""
from __future__ import annotations

import csv
import os
import sys
import tempfile
from pathlib import Path


def main(size: int = 5000) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
    import django

    django.setup()
    from bench import data, worker
    from fangkong.residents import importing
    from fangkong.residents.models import Household, ImportJob, ImportRowError, ImportSeen, Person

    worker.task_setup()
    user, street = worker._bench_user_and_street()
    tmp = Path(tempfile.mkdtemp(prefix="fangkong-sanity-"))
    csv_path, xlsx_path = data.ensure(size, tmp)
    failures = []

    def check(label, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {label} {detail}")
        if not ok:
            failures.append(label)

    def run(path, batch_size=700):
        job = importing.create_job(acting_user=user, place=street, stored_path=path, file_name=path.name)
        job.status = ImportJob.Status.QUEUED
        job.save(update_fields=["status"])
        return importing.run_import(job, acting_user=user, batch_size=batch_size)

    def snapshot():
        return sorted(Person.objects.values_list("id", "version", "updated_at", "name", "phone_bidx", "household_id", "tags"))

    job = run(csv_path)
    check("first import creates every row", (job.status, job.created_count, job.error_count) == ("done", size, 0),
          f"{job.status} created={job.created_count} errors={job.error_count}")
    before, households = snapshot(), Household.objects.count()
    job = run(csv_path)
    check("same file again changes nothing",
          (job.created_count, job.updated_count, job.unchanged_count, job.error_count) == (0, 0, size, 0)
          and snapshot() == before and Household.objects.count() == households,
          f"created={job.created_count} updated={job.updated_count} unchanged={job.unchanged_count}")
    check("ImportSeen cleaned up", not ImportSeen.objects.exists())

    rows = list(csv.reader(open(csv_path, encoding="utf-8-sig")))
    header, body = rows[0], rows[1:]
    fresh = list(data.rows(size + 3, seed=7))[-3:]  # IDs not in the first file
    bad = [
        fresh[0],
        [fresh[1][0], fresh[1][1][:17] + ("0" if fresh[1][1][17] != "0" else "1")] + fresh[1][2:],  # checksum
        ["=1+1"] + fresh[2][1:],  # formula as a name
    ]
    dup = list(fresh[0])
    dup[0] = "重复" + dup[0][:1]
    mixed = tmp / "mixed.csv"
    with open(mixed, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(bad + body[:1500] + [dup])  # the duplicate lands batches after its first row
    job = run(mixed)
    errors = list(ImportRowError.objects.filter(job=job).values_list("row", "column", "reason"))
    rows_with_errors = sorted({e[0] for e in errors})
    dup_row = 2 + len(bad) + 1500
    check("duplicate and bad rows reported", rows_with_errors == [3, 4, dup_row], str(errors))
    check("duplicate names its first row", any(r == dup_row and "2" in m for r, _c, m in errors))
    check("counts", (job.created_count, job.unchanged_count, job.error_count) == (1, 1500, 3),
          f"created={job.created_count} unchanged={job.unchanged_count} errors={job.error_count}")

    job = run(xlsx_path)
    check("XLSX of the same rows: all unchanged", (job.unchanged_count, job.error_count) == (size, 0),
          f"unchanged={job.unchanged_count} created={job.created_count} updated={job.updated_count} errors={job.error_count}")
    print("sanity:", "all ok" if not failures else f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
