"""Shared pytest set-up: the database the run must use, and the fixed cast of users."""
import os

import pytest

from tests.cast import build_cast
from tests.machine import fresh_machine_env


def pytest_configure(config):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


def pytest_collection_modifyitems(config, items):
    """Tests marked one_database check what no database changes (the words a page shows, its
    layout on a phone, the demo's clock just after midnight, a subprocess on a SQLite file of
    its own): scripts/test runs both
    databases side by side on the same two cores, so each such test runs in one of the two
    runs only: the SQLite run, or with one_database("postgresql") the PostgreSQL run (what
    needs PostgreSQL: partitions, the replica, two servers). The other run deselects it (not a
    skip); every page route still runs on both databases through the access matrix, which
    fails on any 5xx. FANGKONG_BOTH_DATABASES=1 runs them in both."""
    if os.environ.get("FANGKONG_BOTH_DATABASES") == "1":
        return
    vendor = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"

    def elsewhere(item) -> bool:
        mark = item.get_closest_marker("one_database")
        return mark is not None and (mark.args[0] if mark.args else "sqlite") != vendor

    away = [item for item in items if elsewhere(item)]
    if away:
        config.hook.pytest_deselected(items=away)
        items[:] = [item for item in items if not elsewhere(item)]


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """pytest-django's test database, made from the session's one `migrate` from nothing
    instead of migrating it again (24-35 s of each run): on SQLite a copy of the migrated
    file (migrated_sqlite) where the test database goes, on PostgreSQL a database made with
    the migrated one (bench_migrated) as its template. Django's set-up then finds the
    database there (keepdb) and runs `migrate` on it, which has nothing left to apply. The
    two are made by the same migrations with the test settings' code; a dump of a file
    migrated under FANGKONG_ENV=dev and one under test differed only in the random auth
    version (2026-12-08). Dropped at the end as pytest-django drops its own."""
    import shutil

    from django.conf import settings
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _get_databases_for_setup

    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    default = connections["default"]
    test_name = default.creation._get_test_db_name()
    assert settings.DATABASES["default"]["NAME"] != test_name  # never over the database the settings name
    if default.vendor == "sqlite":
        if not default.creation.is_in_memory_db(test_name):
            shutil.copyfile(request.getfixturevalue("migrated_sqlite"), test_name)
    elif default.vendor == "postgresql":
        template = request.getfixturevalue("bench_migrated")["FANGKONG_BENCH_MIGRATED_POSTGRES"]
        qn = default.ops.quote_name
        with django_db_blocker.unblock(), default._nodb_cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {qn(test_name)}")
            cur.execute(f"CREATE DATABASE {qn(test_name)} TEMPLATE {qn(template)}")
    with django_db_blocker.unblock():
        db_cfg = setup_databases(verbosity=request.config.option.verbose, interactive=False, aliases=aliases,
                                 serialized_aliases=serialized_aliases, keepdb=True)
    yield
    with django_db_blocker.unblock():
        try:
            teardown_databases(db_cfg, verbosity=request.config.option.verbose, keepdb=False)
        except Exception as exc:  # noqa: BLE001 - as pytest-django: a warning, not a failure
            request.node.warn(pytest.PytestWarning(f"Error when trying to teardown test databases: {exc!r}"))


@pytest.fixture(scope="session", autouse=True)
def _required_database(django_db_setup, django_db_blocker):
    """`FANGKONG_REQUIRE_DB=postgresql` (set by scripts/test): fail, never fall back."""
    from django.db import connection

    wanted = os.environ.get("FANGKONG_REQUIRE_DB")
    if wanted and connection.vendor != wanted:
        pytest.exit(f"tests must run on {wanted}, but the database is {connection.vendor}", returncode=3)
    _clear_cache(django_db_blocker)


def _clear_cache(django_db_blocker):
    from django.core.cache import caches

    from fangkong.lib import throttle

    with django_db_blocker.unblock():
        for alias in ("default", "local"):
            caches[alias].clear()
    throttle.forget_local()


@pytest.fixture(autouse=True)
def _fresh_cache(django_db_blocker):
    """The shared cache (a table of the test database, or Redis) holds rate-limit counters,
    rendered PDFs and the dashboard's closed days: each test starts without another's.
    (A test in a transaction also loses its own rows when it rolls back.)"""
    _clear_cache(django_db_blocker)
    yield
    _clear_cache(django_db_blocker)


@pytest.fixture(autouse=True)
def _fresh_pass_keys():
    """The process caches the passes' signing keys and the revoked pass ids; each test's
    database has its own."""
    from fangkong.passes import tokens
    from fangkong.passes.actions import clear_revocation_cache

    tokens.clear_cache()
    clear_revocation_cache()
    yield
    tokens.clear_cache()
    clear_revocation_cache()


class Clock:
    """A fixed `timezone.now()` that a test sets or moves on (the `clock` fixture)."""

    def __init__(self):
        from unittest import mock

        from django.utils import timezone

        self.now = timezone.now()
        self._patch = mock.patch("django.utils.timezone.now", side_effect=lambda: self.now)

    def set(self, moment):
        self.now = moment

    def advance(self, **kw):
        import datetime as dt

        self.now += dt.timedelta(**kw)


@pytest.fixture
def clock():
    c = Clock()
    with c._patch:
        yield c


@pytest.fixture
def cast(db):
    return build_cast()


@pytest.fixture
def login(client):
    """login(user) -> the test client signed in as that user."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture(autouse=True)
def _private_uploads(settings, tmp_path_factory):
    """Each test's uploads (fangkong.uploads) in a fresh directory of its own."""
    private = dict(settings.STORAGES["private"])
    private["OPTIONS"] = {**private.get("OPTIONS", {}), "location": tmp_path_factory.mktemp("uploads")}
    settings.STORAGES = {**settings.STORAGES, "private": private}


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """A SQLite file made by the README's first command, `fangkong migrate`, from nothing
    (an empty var directory, a subprocess): once per test session (about 20-30 s). The
    test database is a copy of it (django_db_setup); the subprocess tests that need a
    migrated file of their own copy it (fresh_sqlite_var), and so do the bench's tests on
    SQLite (bench_migrated), instead of each migrating again; `migrate` from nothing still
    runs in every session, here, and any failure of it fails the session's tests."""
    import sqlite3
    import subprocess
    import sys

    var = tmp_path_factory.mktemp("migrated-sqlite")
    subprocess.run([sys.executable, "-m", "fangkong.cli", "migrate", "-v0"],
                   env=fresh_machine_env(var, FANGKONG_ENV="dev"), check=True, timeout=600)
    path = var / "fangkong.sqlite3"
    # The migrate process has exited; its last connection folded the WAL into the file.
    # Make sure (a checkpoint that empties the WAL), so that the file alone is the database.
    with sqlite3.connect(path) as con:
        busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    con.close()
    assert busy == 0
    wal = var / "fangkong.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    return path


@pytest.fixture
def fresh_sqlite_var(migrated_sqlite, tmp_path):
    """tmp_path as a var directory holding a copy of the session's migrated SQLite file
    (migrated_sqlite) and nothing else: keys, Huey file and all the rest are made by the
    test's own commands, as on a machine that has just run `fangkong migrate`."""
    import shutil

    shutil.copyfile(migrated_sqlite, tmp_path / "fangkong.sqlite3")
    return tmp_path


@pytest.fixture(scope="session")
def bench_migrated(request, tmp_path_factory):
    """The environment that makes bench/main start each workload's scratch database from a
    migrated one (bench/main.Env.create_empty) instead of migrating it from nothing, for the
    tests that run the bench at a tiny size (tests/test_bench_*.py): on SQLite the session's
    migrated file (migrated_sqlite); on PostgreSQL a database migrated once per session by
    `fangkong migrate` on the server of DATABASE_URL, dropped at the end; the test database
    is made with it as its template (django_db_setup)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield {"FANGKONG_BENCH_MIGRATED_SQLITE": str(request.getfixturevalue("migrated_sqlite"))}
        return
    import subprocess
    import sys
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    base = urlsplit(url)
    name = f"fangkong_bench_migrated_{os.getpid()}"

    def admin(sql: str) -> None:
        with psycopg.connect(urlunsplit(base._replace(path="/postgres")), autocommit=True) as conn:
            conn.execute(sql)

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    try:
        env = fresh_machine_env(tmp_path_factory.mktemp("bench-migrated"), FANGKONG_ENV="test",
                                DATABASE_URL=urlunsplit(base._replace(path="/" + name)))
        subprocess.run([sys.executable, "-m", "fangkong.cli", "migrate", "-v0"], env=env, check=True, timeout=600)
        yield {"FANGKONG_BENCH_MIGRATED_POSTGRES": name}
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
