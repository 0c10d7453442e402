"""Backup and restore (issue 15, item 12): an encrypted online backup taken while writes
run, restored into a fresh place, with consistent counts and a sample that decrypts with
the data keys (which the backup does not hold)."""
import os
import sqlite3
import threading
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from fangkong.lib import crypto
from fangkong.residents.actions import create_person
from fangkong.residents.models import Person
from fangkong.residents.validation import validate_person
from tests.cast import build_cast, make_id, make_phone

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def backup_key(settings):
    settings.BACKUP_KEY = os.urandom(32)
    return settings.BACKUP_KEY


def _person(seq, place):
    clean, errors = validate_person({"name": "备份者", "id_number": make_id(seq, born="19900101"),
                                     "phone": make_phone(seq + 500)})
    assert not errors
    return create_person(acting_user=None, clean=clean, place=place)


def _writes_during(fn, place):
    """Run fn() while another thread keeps adding persons; returns (fn's result, persons
    before, persons after)."""
    stop, started, made = threading.Event(), threading.Event(), []

    def writer():
        try:
            seq = 100
            while not stop.is_set() or seq < 110:
                made.append(_person(seq, place).pk)
                seq += 1
                if seq >= 105:
                    started.set()
        finally:
            connections.close_all()

    t = threading.Thread(target=writer)
    t.start()
    while not started.wait(0.5):
        assert t.is_alive(), "the writer stopped"
    before = Person.objects.count()
    try:
        result = fn()
    finally:
        stop.set()
        t.join(60)
    return result, before, Person.objects.count()


def _rows(cur, sql):
    cur.execute(sql)
    return cur.fetchall()


def _check_restored(cur, cast, before, after):
    persons = _rows(cur, "SELECT COUNT(*) FROM residents_person")[0][0]
    assert before <= persons <= after
    created = _rows(cur, "SELECT COUNT(*) FROM audit_auditevent WHERE action = 'person.create'")[0][0]
    assert created == persons  # one snapshot: each person with the audit event of its transaction
    (blob,) = _rows(cur, f"SELECT id_enc FROM residents_person WHERE id = {cast.person_b1.pk}")[0]
    assert crypto.decrypt(blob) == cast.ids["person_b1"]  # with the data keys, kept apart


def test_sqlite_backup_while_writing_then_restore(tmp_path, backup_key, capsys):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite path")
    cast = build_cast()
    out = tmp_path / "fangkong.backup"
    _, before, after = _writes_during(lambda: call_command("backup", str(out)), cast.grid_a1)
    assert "not in it" in capsys.readouterr().out
    raw = out.read_bytes()
    assert b"SQLite format" not in raw and cast.persons["person_b1"].name.encode() not in raw  # encrypted
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    target = tmp_path / "restored.sqlite3"
    call_command("restore", str(out), "--to", f"sqlite:///{target}")
    db = sqlite3.connect(target)
    try:
        _check_restored(db.cursor(), cast, before, after)
        # The restored audit trail is append-only still.
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM audit_auditevent")
    finally:
        db.close()
    with pytest.raises(CommandError, match="exists"):
        call_command("restore", str(out), "--to", f"sqlite:///{target}")


def test_wrong_key_or_truncated_backup_is_refused(tmp_path, backup_key, settings, pg_cleanup):
    cast = build_cast()  # noqa: F841
    out = tmp_path / "b.backup"
    call_command("backup", str(out))
    to = f"sqlite:///{tmp_path / 'r.sqlite3'}" if connection.vendor == "sqlite" else _fresh_pg_url()[0]
    cut = tmp_path / "cut.backup"
    cut.write_bytes(out.read_bytes()[:-100])
    with pytest.raises(CommandError):
        call_command("restore", str(cut), "--to", to)
    settings.BACKUP_KEY = os.urandom(32)
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("restore", str(out), "--to", to)
    assert not (tmp_path / "r.sqlite3").exists()


def test_backup_needs_its_key(tmp_path, settings):
    settings.BACKUP_KEY = None
    with pytest.raises(CommandError, match="FANGKONG_BACKUP_KEY"):
        call_command("backup", str(tmp_path / "x"))


_MADE_DBS = []


def _fresh_pg_url():
    import psycopg

    s = connection.settings_dict
    name = f"fk_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None,
                         dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    _MADE_DBS.append(name)
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST']}:{s['PORT'] or 5432}/{name}", name


@pytest.fixture
def pg_cleanup():
    yield
    if connection.vendor != "postgresql":
        return
    import psycopg

    s = connection.settings_dict
    with psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None,
                         dbname="postgres", autocommit=True) as c:
        while _MADE_DBS:
            c.execute(f'DROP DATABASE IF EXISTS "{_MADE_DBS.pop()}"')


def test_postgres_backup_while_writing_then_restore(tmp_path, backup_key, pg_cleanup):
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL path")
    import psycopg

    cast = build_cast()
    out = tmp_path / "fangkong.backup"
    _, before, after = _writes_during(lambda: call_command("backup", str(out)), cast.grid_a1)
    assert b"PGDMP" not in out.read_bytes()[:4096]
    url, name = _fresh_pg_url()
    call_command("restore", str(out), "--to", url)
    s = connection.settings_dict
    with psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None,
                         dbname=name) as c:
        _check_restored(c.cursor(), cast, before, after)
        with pytest.raises(psycopg.Error, match="append-only"):
            c.execute("DELETE FROM audit_auditevent")
