"""Fangkong settings: one module, read from the environment.

Every value comes from an environment variable. Bad values fail loudly at start-up
(ImproperlyConfigured) instead of being silently replaced by defaults.

FANGKONG_ENV selects the mode:
  dev / test   missing secrets are generated once into $FANGKONG_VAR/keys.env
  production   SECRET_KEY, DATA_KEY, INDEX_KEY and ALLOWED_HOSTS are required
"""
from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("FANGKONG_VAR") or PACKAGE_DIR.parent / "var").resolve()

ENV = os.environ.get("FANGKONG_ENV", "dev")
if ENV not in {"dev", "test", "production"}:
    raise ImproperlyConfigured(f"FANGKONG_ENV must be dev, test or production, not {ENV!r}")


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    low = raw.strip().lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0/true/false), not {raw!r}")


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, not {value}")
    return value


def _dev_keys() -> dict[str, str]:
    """Secrets for dev/test, generated once and kept in var/keys.env (never committed)."""
    path = VAR_DIR / "keys.env"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        lines = [
            f"FANGKONG_SECRET_KEY={secrets.token_urlsafe(50)}",
            f"FANGKONG_DATA_KEY={base64.b64encode(secrets.token_bytes(32)).decode()}",
            f"FANGKONG_INDEX_KEY={base64.b64encode(secrets.token_bytes(32)).decode()}",
        ]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


_DEV = _dev_keys() if ENV != "production" else {}


def _secret(name: str) -> str:
    value = os.environ.get(name) or _DEV.get(name)
    if not value:
        raise ImproperlyConfigured(f"{name} is required when FANGKONG_ENV=production")
    return value


def _key32(name: str) -> bytes:
    raw = _secret(name)
    try:
        key = base64.b64decode(raw, validate=True)
    except Exception:
        raise ImproperlyConfigured(f"{name} must be base64 of 32 random bytes") from None
    if len(key) != 32:
        raise ImproperlyConfigured(f"{name} must decode to 32 bytes, got {len(key)}")
    return key


SECRET_KEY = _secret("FANGKONG_SECRET_KEY")
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("FANGKONG_SECRET_KEY must be at least 32 characters")
# Personal data encryption (AES-256-GCM) and blind index (HMAC-SHA256) keys.
DATA_KEY = _key32("FANGKONG_DATA_KEY")
INDEX_KEY = _key32("FANGKONG_INDEX_KEY")
if DATA_KEY == INDEX_KEY:
    raise ImproperlyConfigured("FANGKONG_DATA_KEY and FANGKONG_INDEX_KEY must differ")
# Key rotation (README, "Key rotation"): the id of the current pair (ciphertexts carry it;
# those written before key ids count as key 1), and the old pairs still read while
# `fangkong rotate-keys` moves every row to the current one: "ID:DATA:INDEX,..." (base64).
KEY_ID = _int("FANGKONG_KEY_ID", 1, 1)
if KEY_ID > 255:
    raise ImproperlyConfigured("FANGKONG_KEY_ID must be between 1 and 255")


def _old_keys(raw: str) -> dict[int, tuple[bytes, bytes]]:
    out = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            kid, data, index = item.split(":")
            kid_n, data_k, index_k = int(kid), base64.b64decode(data, validate=True), base64.b64decode(index, validate=True)
        except Exception:
            raise ImproperlyConfigured("FANGKONG_OLD_KEYS must be ID:DATA_KEY:INDEX_KEY[,...] (base64 keys)") from None
        if not 1 <= kid_n <= 255 or len(data_k) != 32 or len(index_k) != 32:
            raise ImproperlyConfigured("FANGKONG_OLD_KEYS: ids 1-255 and keys of 32 bytes")
        if kid_n == KEY_ID or kid_n in out:
            raise ImproperlyConfigured(f"FANGKONG_OLD_KEYS: key id {kid_n} given twice")
        out[kid_n] = (data_k, index_k)
    return out


OLD_KEYS = _old_keys(os.environ.get("FANGKONG_OLD_KEYS", ""))
# Backups (`fangkong backup`) are encrypted with their own key; the data keys are never in
# a backup and must be kept (and restored) separately.
BACKUP_KEY = _key32("FANGKONG_BACKUP_KEY") if os.environ.get("FANGKONG_BACKUP_KEY") else None
if BACKUP_KEY is not None and BACKUP_KEY in (DATA_KEY, INDEX_KEY):
    raise ImproperlyConfigured("FANGKONG_BACKUP_KEY must differ from the data and index keys")

# The platform's public address: printed in QR codes (PDF notices' verify page /v/<code>/,
# personal links) and deciding the transport security: served over https, cookies are
# Secure and browsers are told to keep to https (HSTS).
# Without one it follows the address the server was started on (FANGKONG_BIND; never a
# request's Host header); production refuses to start without it (a printed QR code must
# not point to a machine's private address).
PUBLIC_URL_SET = bool(os.environ.get("FANGKONG_PUBLIC_URL", "").strip())
if ENV == "production" and not PUBLIC_URL_SET:
    raise ImproperlyConfigured("FANGKONG_PUBLIC_URL is required when FANGKONG_ENV=production (the address in links and QR codes)")
if PUBLIC_URL_SET:
    PUBLIC_URL = os.environ["FANGKONG_PUBLIC_URL"].strip().rstrip("/")
else:
    from fangkong.lib.address import public_url_for_bind

    PUBLIC_URL = public_url_for_bind(os.environ.get("FANGKONG_BIND", "127.0.0.1:8000"))
if not PUBLIC_URL.startswith(("http://", "https://")) or "://" == PUBLIC_URL[-3:]:
    raise ImproperlyConfigured(f"FANGKONG_PUBLIC_URL must be an http:// or https:// address, not {PUBLIC_URL!r}")
HTTPS = PUBLIC_URL.startswith("https://")

# Off unless asked for: with DEBUG a 404 page lists every URL pattern and a 500 shows the
# traceback to whoever asks. `fangkong run` always serves without it; a developer may run
# `FANGKONG_DEBUG=1 fangkong runserver`.
DEBUG = _bool("FANGKONG_DEBUG", False)
_hosts = os.environ.get("FANGKONG_ALLOWED_HOSTS", "")
if ENV == "production" and not _hosts:
    raise ImproperlyConfigured("FANGKONG_ALLOWED_HOSTS is required when FANGKONG_ENV=production")
ALLOWED_HOSTS = [h.strip() for h in _hosts.split(",") if h.strip()] or ["localhost", "127.0.0.1", "[::1]", "testserver"]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("FANGKONG_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
# The public address's own origin: forms posted from https://… pass the CSRF check even
# where a proxy ends TLS in front of plain http.
_public = urlsplit(PUBLIC_URL)
CSRF_TRUSTED_ORIGINS.append(f"{_public.scheme}://{_public.netloc}")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # the API docs (/api/docs) from ninja's own files, not from a CDN (and without inline scripts)
    "huey.contrib.djhuey",
    "fangkong.places",
    "fangkong.accounts",
    "fangkong.audit",
    "fangkong.residents",
    "fangkong.core",
    "fangkong.inflow",
    "fangkong.observation",
    "fangkong.census",
    "fangkong.documents",
    "fangkong.notify",
    "fangkong.passes",
    "fangkong.gates",
    "fangkong.clinic",
    "fangkong.reports",
    "fangkong.declarations",
    "fangkong.dashboard",
    "fangkong.uploads",
    "fangkong.duty",
    "fangkong.resumption",
    "fangkong.command",
    "fangkong.supplies",
    "fangkong.disinfection",
    "fangkong.services",
    "fangkong.testing",
]

MIDDLEWARE = [
    "fangkong.core.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "fangkong.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "fangkong.core.middleware.RequestBodyMiddleware",  # a body it cannot read: 400, before any other reader
    "fangkong.accounts.middleware.SignInGuardMiddleware",  # refused sign-ins answered before anything costs
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "fangkong.core.middleware.ApiBudgetMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "fangkong.core.middleware.NoStoreMiddleware",
]

ROOT_URLCONF = "fangkong.urls"
WSGI_APPLICATION = "fangkong.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fangkong.core.context.nav",
                "fangkong.notify.context.inbox",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------
_db_url = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'fangkong.sqlite3'}"
try:
    _db = dj_database_url.parse(_db_url, conn_max_age=_int("FANGKONG_DB_CONN_MAX_AGE", 60))
except Exception as exc:  # dj-database-url raises ValueError / KeyError for unknown schemes
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _db["ENGINE"] not in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}:
    raise ImproperlyConfigured(f"DATABASE_URL must be sqlite:// or postgres://, not {_db['ENGINE']}")
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Durability: WAL journal, synchronous=FULL (an acknowledged commit survives a crash
    # or power loss), a busy timeout instead of "database is locked", and IMMEDIATE
    # transactions so writers queue up instead of failing on lock upgrade.
    _db["CONN_MAX_AGE"] = 0 if ENV == "test" else _db["CONN_MAX_AGE"]
    # Django's SQLite backend with writers queued on a lock that wakes the next one at
    # once, instead of SQLite's sleeping busy handler (fangkong/lib/db/sqlite3/base.py).
    _db["ENGINE"] = "fangkong.lib.db.sqlite3"
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=FULL;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA busy_timeout=30000;"
        ),
    }
    if _db["NAME"] and _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Tests use a file too (not a shared-cache memory database, whose table locks ignore
    # the busy timeout): concurrency tests then see the same locking as production.
    # One file per test process, so two test runs in one checkout never share a database.
    _db["TEST"] = {"NAME": str(VAR_DIR / f"test-fangkong-{os.getpid()}.sqlite3")}
elif _bool("FANGKONG_PG_SERVER_BINDING", False):
    # PostgreSQL: parameters sent apart from the statement (psycopg's server-side binding)
    # and each statement run `prepare_threshold` times on a connection prepared there
    # once, instead of the client quoting every parameter into the text (bench W6's profile:
    # 9 % of a registration's CPU in psycopg's client-side binding). Off by default until
    # measured (bench/RESULTS.md).
    _db.setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=_int("FANGKONG_PG_PREPARE_THRESHOLD", 5, 0))
DATABASES = {"default": _db}
# A read replica (PostgreSQL streaming replica of the primary): the daily report, dashboards
# and exports read from it when it is healthy (fangkong/lib/db/replica.py); everything else,
# and every write, uses the primary. Not set: one database, as before.
REPLICA_URL = os.environ.get("FANGKONG_REPLICA_URL", "") or os.environ.get("DATABASE_REPLICA_URL", "")
REPLICA_STICKY_SECONDS = _int("FANGKONG_REPLICA_STICKY_SECONDS", 5)  # a user's reads after their write: primary
REPLICA_MAX_LAG_SECONDS = _int("FANGKONG_REPLICA_MAX_LAG_SECONDS", 5)  # further behind: primary
REPLICA_HEALTH_SECONDS = _int("FANGKONG_REPLICA_HEALTH_SECONDS", 1)  # a process checks the lag at most this often
if REPLICA_URL:
    _replica_var = "FANGKONG_REPLICA_URL" if os.environ.get("FANGKONG_REPLICA_URL") else "DATABASE_REPLICA_URL"
    if _db["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"{_replica_var} needs a PostgreSQL primary (DATABASE_URL=postgres://...)")
    try:
        _replica = dj_database_url.parse(REPLICA_URL, conn_max_age=_db["CONN_MAX_AGE"])
    except Exception as exc:
        raise ImproperlyConfigured(f"{_replica_var} is not a valid database URL: {exc}") from None
    if _replica["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"{_replica_var} must be postgres://, not {_replica['ENGINE']}")
    # A replica that does not answer is given up on quickly (then the primary serves).
    _replica["OPTIONS"] = {**_replica.get("OPTIONS", {}), "connect_timeout": 2}
    # Django's test runner makes no database for it: in tests it is the default database.
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES["replica"] = _replica
    DATABASE_ROUTERS = ["fangkong.lib.db.replica.ReplicaRouter"]
    # Records when a signed-in user's request wrote (any POST/PUT/PATCH/DELETE), for
    # REPLICA_STICKY_SECONDS of reads from the primary.
    MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
                      "fangkong.lib.db.replica.ReplicaStickyMiddleware")
# SQLite: the writes of concurrent requests share one commit (fangkong/lib/db/group_commit.py).
GROUP_COMMIT = _bool("FANGKONG_GROUP_COMMIT", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache -----------------------------------------------------------------------------
# Shared by every process and server (DESIGN.md §3: no state in process memory that another
# server would need): the rate limits' counters (fangkong/lib/throttle.py) live here, as do
# the dashboard's closed days and rendered PDFs. Redis when FANGKONG_REDIS_URL (or, outside
# tests, REDIS_URL) is set; else a table of the database (fangkong/lib/cache.py, created by
# the migration core/0001_cache_table). Tests use the database table unless
# FANGKONG_REDIS_URL is given: its rows go back with each test's transaction.
CACHE_REDIS_URL = os.environ.get("FANGKONG_REDIS_URL", "") or (os.environ.get("REDIS_URL", "") if ENV != "test" else "")
if CACHE_REDIS_URL:
    if not CACHE_REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"FANGKONG_REDIS_URL must start with redis://, rediss:// or unix://, not {CACHE_REDIS_URL!r}")
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_REDIS_URL,
                         "KEY_PREFIX": "fangkong"}}
else:
    CACHES = {"default": {"BACKEND": "fangkong.lib.cache.DatabaseCache", "LOCATION": "fangkong_cache",
                          "OPTIONS": {"MAX_ENTRIES": 50_000}}}
# Per process, for what each process may keep to itself.
CACHES["local"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 5000}}


def _rate(name: str, default: str) -> tuple[int, int]:
    """A rate limit "N/SECONDS" (N events per window of SECONDS; N = 0: no limit)."""
    raw = (os.environ.get(name) or default).strip()
    try:
        n, seconds = (int(x) for x in raw.split("/"))
        if n < 0 or seconds < 1:
            raise ValueError(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must look like 60/600 (events per seconds; 0/60: no limit), not {raw!r}") from None
    return n, seconds


# --- Rate limits (fangkong/lib/throttle.py; 429 with Retry-After) ------------------------------
# The number of trusted reverse proxies in front of the app: 0 (default) takes the client's
# address from the connection; 1 from the last X-Forwarded-For entry (set by that proxy).
PROXY_HOPS = _int("FANGKONG_PROXY_HOPS", 0, 0)
_T = ENV == "test"  # the suite signs in, posts and calls the API far more often than a person
# The JSON API: requests per signed-in user, personal link or (otherwise) client address.
API_RATE = _rate("FANGKONG_API_RATE", "100000/60" if _T else "1200/60")
# Public forms (self-declaration page and API, one-time sign-in link): posts per address.
PUBLIC_FORM_RATE = _rate("FANGKONG_PUBLIC_FORM_RATE", "10000/600" if _T else "60/600")
# The public verify page (/v/<code>/): unknown codes per address.
VERIFY_MISS_RATE = _rate("FANGKONG_VERIFY_MISS_RATE", "30/600")

# --- Background work (Huey) -----------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
HUEY_IMMEDIATE = _bool("FANGKONG_HUEY_IMMEDIATE", ENV == "test")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, not {REDIS_URL!r}")
    HUEY = {"huey_class": "huey.RedisHuey", "name": "fangkong", "url": REDIS_URL, "immediate": HUEY_IMMEDIATE}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "fangkong",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
    }
HUEY["consumer"] = {"workers": _int("FANGKONG_WORKERS", 2, 1), "worker_type": "thread"}

# --- Accounts -------------------------------------------------------------------------
# Django's ModelBackend; the user of a session read by a prepared statement (sessions
# signed in before this backend was named must sign in again once).
AUTHENTICATION_BACKENDS = ["fangkong.accounts.backends.Backend"]
PASSWORD_HASHERS = [
    "fangkong.accounts.hashers.Argon2PasswordHasher",  # Django's, at the lowest CPU priority
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
# Sign-in limits (fangkong/accounts/actions.py explains the rule): failures per account and
# per (account, address) within a window, failures per client address, and the password
# hashes (Argon2) one process computes at once, with how long a sign-in waits for its turn.
LOGIN_MAX_FAILURES = _int("FANGKONG_LOGIN_MAX_FAILURES", 5, 1)
LOGIN_LOCKOUT_SECONDS = _int("FANGKONG_LOGIN_LOCKOUT_SECONDS", 900, 1)
LOGIN_ADDRESS_MAX_FAILURES = _int("FANGKONG_LOGIN_ADDRESS_MAX_FAILURES", 30, 1)
LOGIN_HASH_CONCURRENCY = _int("FANGKONG_LOGIN_HASH_CONCURRENCY", 1, 1)
LOGIN_HASH_WAIT_MS = _int("FANGKONG_LOGIN_HASH_WAIT_MS", 500, 0)
RESIDENT_LINK_DAYS = _int("FANGKONG_RESIDENT_LINK_DAYS", 30, 1)  # a personal link stays valid this long
DISINFECTION_CASE_HOURS = _int("FANGKONG_DISINFECTION_CASE_HOURS", 4, 1)  # a case-triggered round is due this many hours after the case
SIGNIN_LINK_HOURS = _int("FANGKONG_SIGNIN_LINK_HOURS", 72, 1)  # a staff member's one-time sign-in link
SESSION_ENGINE = "fangkong.accounts.sessions"  # Django's database sessions, read by a prepared statement
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Secure cookies whenever the public address is https (then FANGKONG_SECURE_COOKIES=0 is
# refused); on plain http (the demo at http://127.0.0.1:8000) they would break signing in.
if HTTPS and not _bool("FANGKONG_SECURE_COOKIES", True):
    raise ImproperlyConfigured("FANGKONG_SECURE_COOKIES cannot be off when FANGKONG_PUBLIC_URL is https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS or _bool("FANGKONG_SECURE_COOKIES", ENV == "production")
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE  # (the messages cookie follows the session's)
SESSION_COOKIE_AGE = _int("FANGKONG_SESSION_SECONDS", 8 * 3600, 60)

# --- I18n -----------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("FANGKONG_TIME_ZONE", "Asia/Shanghai")
USE_TZ = True

# --- Static files (served locally, never from a CDN) -----------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it; collectstatic fills it
# Files every app server and worker must see (DESIGN.md §3: no state on one machine that
# another needs): private uploads, import files, media. One directory shared by all the
# machines (an NFS or similar mount at the same path on each; the var directory by default,
# right for one machine), FANGKONG_SHARED_DIR; each part may be placed on its own.
SHARED_DIR = Path(os.environ.get("FANGKONG_SHARED_DIR") or VAR_DIR).resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": SHARED_DIR / "media"}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # Private uploads (photos, attachments): outside the web root and the static files,
    # served only through the access check of the record they belong to (fangkong.uploads).
    "private": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": Path(os.environ.get("FANGKONG_UPLOADS_DIR") or SHARED_DIR / "uploads").resolve(),
                            "directory_permissions_mode": 0o700, "file_permissions_mode": 0o600}},
}
# Or, with FANGKONG_S3_BUCKET, the private uploads and the import files in an S3-compatible object store (AWS S3,
# MinIO, Ceph...) through django-storages (the optional extra: pip install 'fangkong[s3]').
# The credentials are boto3's own (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the
# environment, or its configuration files), never read here.
S3_BUCKET = os.environ.get("FANGKONG_S3_BUCKET", "")
if S3_BUCKET:
    try:
        import storages.backends.s3  # noqa: F401
    except ImportError:
        raise ImproperlyConfigured("FANGKONG_S3_BUCKET needs django-storages and boto3: pip install 'fangkong[s3]'") from None
    _s3 = {"bucket_name": S3_BUCKET,
           "endpoint_url": os.environ.get("FANGKONG_S3_ENDPOINT_URL") or None,  # MinIO etc.; AWS when unset
           "region_name": os.environ.get("FANGKONG_S3_REGION") or None,
           "default_acl": None, "querystring_auth": True, "file_overwrite": False}
    STORAGES["private"] = {"BACKEND": "storages.backends.s3.S3Storage",
                           "OPTIONS": {**_s3, "location": os.environ.get("FANGKONG_S3_PREFIX", "uploads")}}
    # Lists uploaded for import wait there for the worker too (fangkong/lib/sheets/store.py).
    STORAGES["imports"] = {"BACKEND": "storages.backends.s3.S3Storage",
                           "OPTIONS": {**_s3, "location": os.environ.get("FANGKONG_S3_IMPORTS_PREFIX", "imports")}}
UPLOAD_MAX_BYTES = _int("FANGKONG_UPLOAD_MAX_MB", 10, 1) * 1024 * 1024
WHITENOISE_USE_FINDERS = True
# Tests look static files up as they are asked for: without it every test client (each
# loads the middleware anew) listed every static file, 36 ms a client in the access
# matrix's profile.
WHITENOISE_AUTOREFRESH = DEBUG or ENV == "test"

# Imports: uploaded files are kept here (in the shared directory: the server that takes the
# upload and the worker that reads it may be different machines) until the job finishes; a job that has not moved
# for IMPORT_ABANDON_HOURS is abandoned (its file and temporary rows deleted).
IMPORT_DIR = Path(os.environ.get("FANGKONG_IMPORT_DIR") or SHARED_DIR / "imports").resolve()
IMPORT_ABANDON_HOURS = _int("FANGKONG_IMPORT_ABANDON_HOURS", 24, 1)
# Rows per write transaction of a resident import (0: residents/importing/fields.BATCH).
IMPORT_BATCH_ROWS = _int("FANGKONG_IMPORT_BATCH_ROWS", 0, 0)
# The share of time an import may spend in its write transactions while other connections
# use the database (the gates): after a batch beside them it waits out the rest (W8).
try:
    IMPORT_WRITE_SHARE = float(os.environ.get("FANGKONG_IMPORT_WRITE_SHARE") or 0.3)
except ValueError:
    raise ImproperlyConfigured("FANGKONG_IMPORT_WRITE_SHARE must be a number") from None
if not 0 < IMPORT_WRITE_SHARE <= 1:
    raise ImproperlyConfigured(f"FANGKONG_IMPORT_WRITE_SHARE must be above 0 and at most 1, not {IMPORT_WRITE_SHARE}")

# Inflow closed loop (M4): the committee reviews within this many minutes of forwarding
# (the seed's promise: one hour); with auto-route on, an application goes straight to the
# destination community's committee instead of through the coordination department.
INFLOW_REVIEW_MINUTES = _int("FANGKONG_INFLOW_REVIEW_MINUTES", 60, 1)
# Deadlines of the other links (overdue items are listed first on the board and escalated
# by an alert once per link): the coordination department forwards within this many
# minutes of submission; the unit confirms travel within this many hours of approval; the
# committee registers the arrival by the end of the planned arrival day (plus grace hours).
INFLOW_FORWARD_MINUTES = _int("FANGKONG_INFLOW_FORWARD_MINUTES", 15, 1)
INFLOW_TRAVEL_HOURS = _int("FANGKONG_INFLOW_TRAVEL_HOURS", 24, 1)
INFLOW_ARRIVAL_GRACE_HOURS = _int("FANGKONG_INFLOW_ARRIVAL_GRACE_HOURS", 0, 0)
INFLOW_AUTO_ROUTE = _bool("FANGKONG_INFLOW_AUTO_ROUTE", False)


# Observation (M5): the daily temperature windows ("HH:MM-HH:MM,HH:MM-HH:MM", local time)
# and the fever threshold in °C (seed 000: 37.3).
def _windows(name: str, default: str):
    import datetime as _dt

    raw = os.environ.get(name) or default
    out = []
    try:
        for part in raw.split(","):
            a, b = part.strip().split("-")
            start, end = _dt.time.fromisoformat(a.strip()), _dt.time.fromisoformat(b.strip())
            if not start < end:
                raise ValueError(part)
            out.append((start, end))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must look like 07:00-10:00,15:00-19:00, not {raw!r}") from None
    if any(out[i][1] > out[i + 1][0] for i in range(len(out) - 1)):
        raise ImproperlyConfigured(f"{name}: windows must be in order and must not overlap")
    return out


def _decimal(name: str, default: str, low: str, high: str):
    from decimal import Decimal, InvalidOperation

    raw = os.environ.get(name) or default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if not Decimal(low) <= value <= Decimal(high):
        raise ImproperlyConfigured(f"{name} must lie between {low} and {high}, not {raw!r}")
    return value


# Daily report (M8): stations and units enter their figures for a day by the deadline
# (local time on that day); a day is closed (its report kept as it was) at the close time
# on the next day. Both "HH:MM".
def _clock(name: str, default: str):
    import datetime as _dt

    raw = (os.environ.get(name) or default).strip()
    try:
        if len(raw) != 5 or raw[2] != ":":
            raise ValueError(raw)
        return _dt.time.fromisoformat(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a time of day like 17:00, not {raw!r}") from None


REPORT_DEADLINE = _clock("FANGKONG_REPORT_DEADLINE", "17:00")
REPORT_CLOSE = _clock("FANGKONG_REPORT_CLOSE", "09:00")  # on the day after


OBSERVATION_WINDOWS = _windows("FANGKONG_OBSERVATION_WINDOWS", "06:00-12:00,14:00-21:00")
FEVER_THRESHOLD = _decimal("FANGKONG_FEVER_THRESHOLD", "37.3", "36.5", "39.0")
# PostgreSQL: the daily retention task DETACHes (never drops) the temperature reports'
# monthly partitions older than this many months (0: never); SQLite: no effect.
OBSERVATION_REPORT_DETACH_MONTHS = _int("FANGKONG_OBSERVATION_REPORT_DETACH_MONTHS", 0, 0)
# PostgreSQL: the daily retention task DETACHes (never drops) the gate entries' monthly
# partitions older than this many months (0: never); SQLite: no effect.
GATE_ENTRY_DETACH_MONTHS = _int("FANGKONG_GATE_ENTRY_DETACH_MONTHS", 0, 0)

# --- Retention (core.retention): days after the end of an observation, declaration, job...
# before its health details are cleared, and before its link to the person is cut (or the
# identity it holds erased). The link outlives the health details.
RETAIN_HEALTH_DAYS = _int("FANGKONG_RETAIN_HEALTH_DAYS", 30, 1)
RETAIN_LINK_DAYS = _int("FANGKONG_RETAIN_LINK_DAYS", 180, 1)
if RETAIN_LINK_DAYS < RETAIN_HEALTH_DAYS:
    raise ImproperlyConfigured("FANGKONG_RETAIN_LINK_DAYS must be >= FANGKONG_RETAIN_HEALTH_DAYS")
# Health passes (M6): validity of a resident's or vehicle pass (days), lifetime of the
# phone page's QR code (minutes; refreshed every minute, so a screenshot dies soon), how
# long a process trusts its cached revocation list (seconds), the longest colour override
# (hours), and the override burst that raises an alert (this many requests by one person
# or in one community within the minutes given).
PASSES_VALID_DAYS = _int("FANGKONG_PASSES_VALID_DAYS", 30, 1)
PASSES_PHONE_TOKEN_MINUTES = _int("FANGKONG_PASSES_PHONE_TOKEN_MINUTES", 5, 1)
PASSES_REVOCATION_CACHE_SECONDS = _int("FANGKONG_PASSES_REVOCATION_CACHE_SECONDS", 5, 0)
PASSES_OVERRIDE_MAX_HOURS = _int("FANGKONG_PASSES_OVERRIDE_MAX_HOURS", 72, 1)
PASSES_OVERRIDE_BURST = _int("FANGKONG_PASSES_OVERRIDE_BURST", 5, 2)
PASSES_OVERRIDE_BURST_MINUTES = _int("FANGKONG_PASSES_OVERRIDE_BURST_MINUTES", 60, 1)
# Audit trail: events older than this (whole months) are removed by `fangkong purge-audit`,
# run by the database owner; refused attempts (403, out of scope) are recorded at most once
# a minute per account, route and kind, and DENIED_ALERT_COUNT of them by one account
# within DENIED_ALERT_MINUTES raise an alert.
AUDIT_RETENTION_DAYS = _int("FANGKONG_AUDIT_RETENTION_DAYS", 730, 30)
# PostgreSQL: the daily retention task DETACHes (never drops) the audit trail's monthly
# partitions older than this many months (0: never); SQLite: no effect.
AUDIT_DETACH_MONTHS = _int("FANGKONG_AUDIT_DETACH_MONTHS", 0, 0)
# PostgreSQL: the same for the testing registrations' monthly partitions (months of the
# rounds' creation: a round's registrations go together); SQLite: no effect.
TESTING_DETACH_MONTHS = _int("FANGKONG_TESTING_DETACH_MONTHS", 0, 0)
DENIED_ALERT_COUNT = _int("FANGKONG_DENIED_ALERT_COUNT", 20, 2)
DENIED_ALERT_MINUTES = _int("FANGKONG_DENIED_ALERT_MINUTES", 5, 1)
# Official documents (PDF notices): the CJK font they embed (default: the system Noto CJK);
# the address printed in their QR codes is PUBLIC_URL (above).
PDF_FONT = os.environ.get("FANGKONG_PDF_FONT", "").strip()
if PDF_FONT and not Path(PDF_FONT).is_file():
    raise ImproperlyConfigured(f"FANGKONG_PDF_FONT must be the path of a font file (.ttf/.otf/.ttc), not {PDF_FONT!r}")
# Notifications: e-mail (console in dev, in-memory in tests, SMTP in production unless set)
# and the outbox worker's retries (attempt n waits NOTIFY_RETRY_SECONDS × 2^(n-1), ≤ 1 h).
EMAIL_BACKEND = os.environ.get("FANGKONG_EMAIL_BACKEND") or {
    "dev": "django.core.mail.backends.console.EmailBackend",
    "test": "django.core.mail.backends.locmem.EmailBackend",
    "production": "django.core.mail.backends.smtp.EmailBackend",
}[ENV]
EMAIL_HOST = os.environ.get("FANGKONG_EMAIL_HOST", "localhost")
EMAIL_PORT = _int("FANGKONG_EMAIL_PORT", 25, 1)
EMAIL_HOST_USER = os.environ.get("FANGKONG_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("FANGKONG_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = _bool("FANGKONG_EMAIL_TLS", False)
EMAIL_USE_SSL = _bool("FANGKONG_EMAIL_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("FANGKONG_EMAIL_TLS and FANGKONG_EMAIL_SSL cannot both be on")
EMAIL_TIMEOUT = _int("FANGKONG_EMAIL_TIMEOUT", 10, 1)
DEFAULT_FROM_EMAIL = os.environ.get("FANGKONG_EMAIL_FROM", "fangkong@localhost")
NOTIFY_MAX_ATTEMPTS = _int("FANGKONG_NOTIFY_MAX_ATTEMPTS", 5, 1)
NOTIFY_RETRY_SECONDS = _int("FANGKONG_NOTIFY_RETRY_SECONDS", 60, 1)
# Inbox links become absolute in webhooks and e-mail when the public address is set.
NOTIFY_BASE_URL = PUBLIC_URL if os.environ.get("FANGKONG_PUBLIC_URL") else ""

DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
IMPORT_MAX_BYTES = _int("FANGKONG_IMPORT_MAX_BYTES", 512 * 1024 * 1024, 1024)

# --- Transport security -----------------------------------------------------------------
# HSTS when served over https (SecurityMiddleware sends it on secure requests only).
SECURE_HSTS_SECONDS = _int("FANGKONG_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0, 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = False  # the platform cannot speak for its neighbours
# Behind a reverse proxy that ends TLS: FANGKONG_PROXY_SSL_HEADER=1 trusts its
# X-Forwarded-Proto: https (the proxy must set or strip that header on every request).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _bool("FANGKONG_PROXY_SSL_HEADER", False) else None
SECURE_REFERRER_POLICY = "same-origin"

# --- Logs -------------------------------------------------------------------------------
# Every record is redacted when made (tokens of personal and sign-in links, ID and phone
# numbers; fangkong/lib/logs.py); "fangkong.request" writes one JSON line per request.
LOGGING_CONFIG = "fangkong.lib.logs.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "fangkong.lib.logs.RedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("FANGKONG_LOG_LEVEL", "INFO")},
    # Never DEBUG: the template engine's DEBUG records dump whole page contexts (names,
    # addresses, what a form was given), and the database's its queries' parameters.
    "loggers": {"django.db.backends": {"level": "INFO"}, "django.template": {"level": "INFO"}},
}
