"""National IDs and phone numbers never rest in plain text: not in any table (audit
included), and not anywhere in the SQLite file, its WAL or its indexes."""
import csv
import io
import os
import subprocess
import sys

import pytest

from django.db import connection

from tests.machine import fresh_machine_env

from tests.cast import make_id, make_phone


def all_stored_text() -> str:
    """Every value of every table as text (bytes decoded leniently)."""
    out = []
    with connection.cursor() as cur:
        for table in connection.introspection.table_names():
            cur.execute(f'SELECT * FROM "{table}"')
            for row in cur.fetchall():
                for v in row:
                    if isinstance(v, (bytes, memoryview)):
                        out.append(bytes(v).decode("latin-1"))
                    else:
                        out.append(str(v))
    return "\n".join(out)


def test_no_plain_id_or_phone_in_any_table(cast, login):
    client = login(cast.committee_a)
    # Exercise the paths that write: search, view, unmask, export, create, edit.
    client.post("/residents/", {"q": cast.ids["person_a1"]})
    client.post("/residents/", {"q": cast.phones["person_a1"]})
    client.get(f"/residents/{cast.person_a1.pk}/")
    client.post(f"/residents/{cast.person_a1.pk}/unmask/", {"reason": f"核对 {cast.ids['person_a1']}"})
    client.post("/residents/export/", {"unmasked": "1"})
    client.post("/residents/new/", {"name": "隐私", "id_number": make_id(990), "phone": make_phone(990), "household": cast.hh_a2.pk})
    client.post("/residents/new/", {"name": "隐私", "id_number": make_id(990), "phone": make_phone(990), "household": cast.hh_a2.pk})
    client.post("/login/", {"username": cast.ids["person_a2"], "password": "x" * 12})
    text = all_stored_text()
    numbers = list(cast.ids.values()) + list(cast.phones.values()) + [make_id(990), make_phone(990)]
    leaked = [n for n in numbers if n in text]
    assert not leaked, leaked
    assert "隐私" in text  # the scan does see the data


@pytest.mark.one_database  # a SQLite file of its own, whichever database the run uses
def test_sqlite_file_holds_no_plain_numbers(fresh_sqlite_var):
    """A real file database, written through the CLI import: grep its bytes. The file is a
    copy of the session's `fangkong migrate` from nothing (conftest.migrated_sqlite)."""
    tmp_path = fresh_sqlite_var
    env = fresh_machine_env(tmp_path, FANGKONG_ENV="test", FANGKONG_HUEY_IMMEDIATE="1")
    ids = [make_id(i, region="110101", born="19900215") for i in range(50)]
    # Digits that no stored timestamp and place path can spell by chance: "18600000001" was
    # found in an index page as a time's microseconds ".818600" followed by the path "000001/".
    phones = [f"1398765{i:04d}" for i in range(50)]
    f = tmp_path / "in.csv"
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["姓名", "身份证号", "联系电话", "住址"])
    for i, (n, p) in enumerate(zip(ids, phones)):
        w.writerow([f"居民{chr(0x4e00 + i)}", n, p, f"{i}号"])
    f.write_text(buf.getvalue(), encoding="utf-8")
    fk = [sys.executable, "-m", "fangkong.cli"]
    subprocess.run(fk + ["demo", "--persons", "30"], env=env, check=True, capture_output=True, timeout=300)
    subprocess.run(fk + ["import_residents", str(f), "--place", "DEMO-C01", "--user", "demo_committee"],
                   env=env, check=True, capture_output=True, timeout=300)
    blob = b""
    for name in os.listdir(tmp_path):
        if name.startswith("fangkong.sqlite3"):
            blob += (tmp_path / name).read_bytes()
    assert "居民一".encode() in blob  # the names are there, so the file was written
    for n in ids + phones:
        assert n.encode() not in blob, n
        assert n.encode("utf-16-le") not in blob, n
