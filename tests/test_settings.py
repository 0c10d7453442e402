"""Settings come from the environment and fail loudly on bad values."""
import base64
import os
import subprocess
import sys

import pytest

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()


def load(tmp_path, **env):
    """Import the settings module in a fresh interpreter with `env`; returns (code, stderr)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FANGKONG_", "DATABASE_URL", "REDIS_URL"))}
    base.update({"FANGKONG_VAR": str(tmp_path), "FANGKONG_ENV": "test"})
    base.update(env)
    proc = subprocess.run([sys.executable, "-c", "import fangkong.settings as s; print(s.DATABASES['default']['ENGINE'], s.HUEY['huey_class'])"],
                          env=base, capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def test_defaults_work_and_generate_dev_keys(tmp_path):
    code, out = load(tmp_path)
    assert code == 0, out
    assert "sqlite3 huey.SqliteHuey" in out
    assert (tmp_path / "keys.env").exists() and oct((tmp_path / "keys.env").stat().st_mode)[-3:] == "600"


@pytest.mark.parametrize("env,message", [
    ({"FANGKONG_ENV": "staging"}, "FANGKONG_ENV"),
    ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
    ({"DATABASE_URL": "nonsense"}, "DATABASE_URL"),
    ({"FANGKONG_DEBUG": "maybe"}, "FANGKONG_DEBUG"),
    ({"FANGKONG_LOGIN_MAX_FAILURES": "five"}, "FANGKONG_LOGIN_MAX_FAILURES"),
    ({"FANGKONG_LOGIN_MAX_FAILURES": "0"}, "FANGKONG_LOGIN_MAX_FAILURES"),
    ({"FANGKONG_DATA_KEY": "short"}, "FANGKONG_DATA_KEY"),
    ({"FANGKONG_DATA_KEY": base64.b64encode(b"x" * 16).decode()}, "32 bytes"),
    ({"FANGKONG_DATA_KEY": KEY_A, "FANGKONG_INDEX_KEY": KEY_A}, "must differ"),
    ({"FANGKONG_KEY_ID": "256"}, "FANGKONG_KEY_ID"),
    ({"FANGKONG_OLD_KEYS": "1:nonsense"}, "FANGKONG_OLD_KEYS"),
    ({"FANGKONG_KEY_ID": "2", "FANGKONG_OLD_KEYS": f"2:{KEY_A}:{KEY_B}"}, "given twice"),
    ({"FANGKONG_BACKUP_KEY": "short"}, "FANGKONG_BACKUP_KEY"),
    ({"FANGKONG_DATA_KEY": KEY_A, "FANGKONG_INDEX_KEY": KEY_B, "FANGKONG_BACKUP_KEY": KEY_A}, "FANGKONG_BACKUP_KEY must differ"),
    ({"FANGKONG_DENIED_ALERT_COUNT": "1"}, "FANGKONG_DENIED_ALERT_COUNT"),
    ({"FANGKONG_AUDIT_RETENTION_DAYS": "7"}, "FANGKONG_AUDIT_RETENTION_DAYS"),
    ({"FANGKONG_AUDIT_DETACH_MONTHS": "-1"}, "FANGKONG_AUDIT_DETACH_MONTHS"),
    ({"FANGKONG_TESTING_DETACH_MONTHS": "-1"}, "FANGKONG_TESTING_DETACH_MONTHS"),
    ({"FANGKONG_SECRET_KEY": "tooshort"}, "FANGKONG_SECRET_KEY"),
    ({"REDIS_URL": "http://localhost"}, "REDIS_URL"),
    ({"FANGKONG_RETAIN_HEALTH_DAYS": "0"}, "FANGKONG_RETAIN_HEALTH_DAYS"),
    ({"FANGKONG_RETAIN_HEALTH_DAYS": "40", "FANGKONG_RETAIN_LINK_DAYS": "20"}, "FANGKONG_RETAIN_LINK_DAYS"),
    ({"FANGKONG_ENV": "production"}, "required"),
    ({"FANGKONG_ENV": "production", "FANGKONG_SECRET_KEY": "s" * 50, "FANGKONG_DATA_KEY": KEY_A, "FANGKONG_INDEX_KEY": KEY_B,
      "FANGKONG_PUBLIC_URL": "https://fk.example.gov.cn"}, "ALLOWED_HOSTS"),
    # Production needs the address people reach it at (links and QR codes printed on paper).
    ({"FANGKONG_ENV": "production", "FANGKONG_SECRET_KEY": "s" * 50, "FANGKONG_DATA_KEY": KEY_A, "FANGKONG_INDEX_KEY": KEY_B,
      "FANGKONG_ALLOWED_HOSTS": "fk.example.gov.cn"}, "FANGKONG_PUBLIC_URL is required"),
    ({"FANGKONG_PUBLIC_URL": "fk.example.gov.cn"}, "FANGKONG_PUBLIC_URL"),
    # The read replica (fangkong/lib/db/replica.py): PostgreSQL behind a PostgreSQL primary only.
    ({"FANGKONG_REPLICA_URL": "postgres://u@replica/fk"}, "needs a PostgreSQL primary"),
    ({"DATABASE_URL": "postgres://u@primary/fk", "FANGKONG_REPLICA_URL": "sqlite:///x.db"}, "must be postgres://"),
    ({"DATABASE_URL": "postgres://u@primary/fk", "DATABASE_REPLICA_URL": "nonsense"}, "DATABASE_REPLICA_URL is not a valid"),
    ({"FANGKONG_REPLICA_STICKY_SECONDS": "five"}, "FANGKONG_REPLICA_STICKY_SECONDS"),
    ({"FANGKONG_REPLICA_MAX_LAG_SECONDS": "-1"}, "FANGKONG_REPLICA_MAX_LAG_SECONDS"),
    # The import's share of the writer beside others (residents/importing/jobs.WriteShare).
    ({"FANGKONG_IMPORT_WRITE_SHARE": "half"}, "FANGKONG_IMPORT_WRITE_SHARE must be a number"),
    ({"FANGKONG_IMPORT_WRITE_SHARE": "0"}, "FANGKONG_IMPORT_WRITE_SHARE must be above 0"),
    ({"FANGKONG_IMPORT_WRITE_SHARE": "1.5"}, "FANGKONG_IMPORT_WRITE_SHARE must be above 0"),
    ({"FANGKONG_IMPORT_WRITE_SHARE": "nan"}, "FANGKONG_IMPORT_WRITE_SHARE must be above 0"),
])
def test_bad_values_fail_loudly(tmp_path, env, message):
    code, out = load(tmp_path, **env)
    assert code != 0 and "ImproperlyConfigured" in out and message in out, out


def test_production_with_everything_set(tmp_path):
    code, out = load(tmp_path, FANGKONG_ENV="production", FANGKONG_SECRET_KEY="s" * 50, FANGKONG_DATA_KEY=KEY_A,
                     FANGKONG_INDEX_KEY=KEY_B, FANGKONG_ALLOWED_HOSTS="fk.example.gov.cn", FANGKONG_PUBLIC_URL="https://fk.example.gov.cn",
                     DATABASE_URL="postgres://u@127.0.0.1:5432/fk", REDIS_URL="redis://127.0.0.1:6379/0")
    assert code == 0, out
    assert "postgresql huey.RedisHuey" in out
    assert not (tmp_path / "keys.env").exists()  # production never invents secrets


def test_sqlite_durability_pragmas(db):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cur:
        cur.execute("PRAGMA synchronous")
        assert cur.fetchone()[0] == 2  # FULL
        cur.execute("PRAGMA busy_timeout")
        assert cur.fetchone()[0] == 30000
        cur.execute("PRAGMA foreign_keys")
        assert cur.fetchone()[0] == 1
    from django.conf import settings

    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in settings.DATABASES["default"]["OPTIONS"]["init_command"]


def test_wal_on_a_file_database(tmp_path):
    code, out = load(tmp_path)
    script = (
        "import django; django.setup(); from django.db import connection; c = connection.cursor();"
        "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FANGKONG_", "DATABASE_URL"))}
    env.update(FANGKONG_VAR=str(tmp_path), FANGKONG_ENV="test", DJANGO_SETTINGS_MODULE="fangkong.settings")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "wal", proc.stderr


def public_url(tmp_path, **env) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FANGKONG_", "DATABASE_URL", "REDIS_URL"))}
    base.update({"FANGKONG_VAR": str(tmp_path), "FANGKONG_ENV": "test"}, **env)
    proc = subprocess.run([sys.executable, "-c", "import fangkong.settings as s; print(s.PUBLIC_URL)"], env=base,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_links_follow_the_address_the_server_was_started_on(tmp_path):
    """Issue 14, point 1: without FANGKONG_PUBLIC_URL, links and QR codes point where the
    server listens (not to 127.0.0.1:8000 when it runs elsewhere); a server on every
    interface is named by the machine's address; a configured public address comes first."""
    assert public_url(tmp_path) == "http://127.0.0.1:8000"
    assert public_url(tmp_path, FANGKONG_BIND="127.0.0.1:8765") == "http://127.0.0.1:8765"
    assert public_url(tmp_path, FANGKONG_BIND="192.0.2.10:80") == "http://192.0.2.10"
    everywhere = public_url(tmp_path, FANGKONG_BIND="0.0.0.0:8765")
    assert everywhere.endswith(":8765") and "0.0.0.0" not in everywhere
    assert public_url(tmp_path, FANGKONG_BIND="0.0.0.0:8765", FANGKONG_PUBLIC_URL="https://fk.example.gov.cn/") == \
        "https://fk.example.gov.cn"


@pytest.mark.django_db
def test_a_requests_host_header_never_makes_a_link(client, settings):
    """The poster's QR code is built from the configured address, whatever Host a client sends."""
    from fangkong.declarations import actions
    from tests.cast import build_cast

    cast = build_cast()
    settings.PUBLIC_URL = "http://192.0.2.10:8765"
    settings.ALLOWED_HOSTS = ["*"]
    point = actions.ensure_point(acting_user=None, place=cast.comm_a)
    client.force_login(cast.committee_a)
    page = client.get(f"/declarations/points/{point.pk}/", HTTP_HOST="evil.example").content.decode()
    assert f"http://192.0.2.10:8765/d/{point.code}/" in page and "evil.example" not in page


def test_a_replica_is_routed_only_when_configured(tmp_path):
    show = ("import fangkong.settings as s; print(sorted(s.DATABASES), getattr(s, 'DATABASE_ROUTERS', []), "
            "'fangkong.lib.db.replica.ReplicaStickyMiddleware' in s.MIDDLEWARE, "
            "s.DATABASES.get('replica', {}).get('TEST'), s.REPLICA_STICKY_SECONDS, s.REPLICA_MAX_LAG_SECONDS)")

    def run(**env):
        base = {k: v for k, v in os.environ.items() if not k.startswith(("FANGKONG_", "DATABASE_", "REDIS_URL"))}
        base.update({"FANGKONG_VAR": str(tmp_path), "FANGKONG_ENV": "test", **env})
        proc = subprocess.run([sys.executable, "-c", show], env=base, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    assert run() == "['default'] [] False None 5 5"
    assert run(DATABASE_URL="postgres://u@primary/fk", FANGKONG_REPLICA_URL="postgres://u@replica/fk",
               FANGKONG_REPLICA_STICKY_SECONDS="3") == (
        "['default', 'replica'] ['fangkong.lib.db.replica.ReplicaRouter'] True {'MIRROR': 'default'} 3 5")


def test_shared_dir_holds_the_files_every_server_needs(tmp_path):
    """FANGKONG_SHARED_DIR (issue 22, item 1): private uploads, import files and media move
    there from the var directory; FANGKONG_UPLOADS_DIR / FANGKONG_IMPORT_DIR still win."""
    shared = tmp_path / "shared"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FANGKONG_", "DATABASE_URL", "REDIS_URL"))}
    show = ("import fangkong.settings as s; print(s.STORAGES['private']['OPTIONS']['location']); "
            "print(s.IMPORT_DIR); print(s.STORAGES['default']['OPTIONS']['location'])")

    def paths(**env):
        proc = subprocess.run([sys.executable, "-c", show], capture_output=True, text=True, timeout=60,
                              env=dict(base, FANGKONG_VAR=str(tmp_path / "var"), FANGKONG_ENV="test", **env))
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert paths() == [str(tmp_path / "var" / d) for d in ("uploads", "imports", "media")]
    assert paths(FANGKONG_SHARED_DIR=str(shared)) == [str(shared / d) for d in ("uploads", "imports", "media")]
    assert paths(FANGKONG_SHARED_DIR=str(shared), FANGKONG_IMPORT_DIR=str(tmp_path / "imp"))[1] == str(tmp_path / "imp")


def test_s3_bucket_needs_the_s3_extra(tmp_path):
    """FANGKONG_S3_BUCKET puts the private uploads in an object store through django-storages,
    an optional extra: without it installed the settings refuse to load, never fall back."""
    try:
        import storages  # noqa: F401
    except ImportError:
        code, out = load(tmp_path, FANGKONG_S3_BUCKET="fangkong-uploads")
        assert code != 0 and "pip install 'fangkong[s3]'" in out
    else:
        proc = subprocess.run([sys.executable, "-c", "import fangkong.settings as s; print(s.STORAGES['private']['BACKEND'])"],
                              env=dict(os.environ, FANGKONG_VAR=str(tmp_path), FANGKONG_ENV="test", FANGKONG_S3_BUCKET="b"),
                              capture_output=True, text=True, timeout=60)
        assert proc.stdout.strip() == "storages.backends.s3.S3Storage", proc.stderr
