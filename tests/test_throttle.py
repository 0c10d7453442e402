"""Rate limits on the shared cache (fangkong/lib/throttle.py): sign-in per account and per
address without letting anyone lock another person out, public forms, the verify page and
the API; 429 with Retry-After; counters shared between processes."""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client, override_settings

from fangkong.audit.models import AuditEvent
from fangkong.lib import throttle
from tests.cast import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
A, B = "203.0.113.7", "198.51.100.9"  # the attacker's and the owner's addresses


def attempt(username, password, ip, client=None):
    return (client or Client()).post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_the_shared_cache_is_not_per_process():
    assert settings.CACHES["default"]["BACKEND"] in ("fangkong.lib.cache.DatabaseCache",
                                                      "django.core.cache.backends.redis.RedisCache")


def test_an_attacker_knowing_the_name_cannot_lock_the_owner_out(cast):
    for _i in range(8):
        resp = attempt("committee_a", "wrong-password", A)
    assert resp.status_code == 429 and 0 < int(resp["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS
    # The attacker's address stays refused, even with the right password...
    assert attempt("committee_a", PASSWORD, A).status_code == 429
    # ...while the owner signs in from another address.
    owner = Client()
    assert attempt("committee_a", PASSWORD, B, owner).status_code == 302
    assert owner.session["_auth_user_id"] == str(cast.committee_a.pk)
    assert AuditEvent.objects.filter(action="auth.login", outcome="ok", user=cast.committee_a).count() == 1


def test_a_guarded_name_gives_a_new_address_one_guess(cast):
    for _i in range(5):
        attempt("committee_a", "wrong-password", A)
    assert attempt("committee_a", "wrong-password", B).status_code == 429  # its first failure on a guarded name
    assert attempt("committee_a", PASSWORD, B).status_code == 429  # and then B is refused too
    assert attempt("committee_a", PASSWORD, "192.0.2.1").status_code == 302


@override_settings(LOGIN_ADDRESS_MAX_FAILURES=3)
def test_an_address_with_many_failures_is_refused_for_every_name(cast):
    codes = [attempt(name, "wrong-password", A).status_code for name in ("ghost1", "ghost2", "ghost3")]
    assert codes == [401, 401, 429]
    resp = attempt("worker_a1", PASSWORD, A)
    assert resp.status_code == 429 and int(resp["Retry-After"]) > 0
    assert attempt("worker_a1", PASSWORD, B).status_code == 302


def test_refusals_come_before_the_password_is_hashed(cast):
    for _i in range(5):
        attempt("committee_a", "wrong-password", A)
    with mock.patch("fangkong.accounts.actions.authenticate") as auth:
        for _i in range(20):
            assert attempt("committee_a", "wrong-password", A).status_code == 429
    assert auth.call_count == 0


@override_settings(LOGIN_HASH_WAIT_MS=0)
def test_no_free_turn_to_hash_is_429_retry_after_one(cast):
    with throttle.slot("password-hash", settings.LOGIN_HASH_CONCURRENCY, 0):  # this process's one turn, taken
        resp = attempt("committee_a", PASSWORD, B)
    assert resp.status_code == 429 and resp["Retry-After"] == "1"
    assert attempt("committee_a", PASSWORD, B).status_code == 302


def test_with_every_turn_and_wait_taken_the_attempt_is_refused_first(cast):
    taken, release = threading.Event(), threading.Event()

    def waiter():
        with throttle.slot("password-hash", settings.LOGIN_HASH_CONCURRENCY, 30):
            pass

    def holder():
        with throttle.slot("password-hash", settings.LOGIN_HASH_CONCURRENCY, 0):
            taken.set()
            release.wait(30)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    taken.wait(30)
    threads += [threading.Thread(target=waiter) for _i in range(settings.LOGIN_HASH_CONCURRENCY)]
    for t in threads[1:]:
        t.start()
    try:
        while not throttle.slot_full("password-hash", settings.LOGIN_HASH_CONCURRENCY):
            threading.Event().wait(0.01)
        with mock.patch("fangkong.accounts.actions.authenticate") as auth:
            resp = attempt("committee_a", PASSWORD, B)
        assert resp.status_code == 429 and resp["Retry-After"] == "1" and auth.call_count == 0
    finally:
        release.set()
        for t in threads:
            t.join(30)
    assert attempt("committee_a", PASSWORD, B).status_code == 302


@override_settings(PROXY_HOPS=1)
def test_behind_a_trusted_proxy_the_forwarded_address_counts(cast):
    for _i in range(5):
        Client().post("/login/", {"username": "committee_a", "password": "wrong"}, REMOTE_ADDR="10.0.0.1",
                      HTTP_X_FORWARDED_FOR=f"1.2.3.4, {A}")
    # The proxy's address is shared by everyone: the owner behind it is not refused.
    resp = Client().post("/login/", {"username": "committee_a", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1",
                         HTTP_X_FORWARDED_FOR=f"1.2.3.4, {B}")
    assert resp.status_code == 302


@override_settings(API_RATE=(3, 600))
def test_the_api_budget_per_user(cast, login):
    client = login(cast.committee_a)
    answers = [client.get("/api/me") for _i in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    body = answers[-1].json()
    assert body["retry_after"] == int(answers[-1]["Retry-After"]) > 0 and body["detail"]
    other = Client()
    other.force_login(cast.worker_a1)
    assert other.get("/api/me").status_code == 200


def test_a_budget_batches_its_writes_and_still_holds(db):
    limit = 500  # batches of 10
    answers = [throttle.budget("test:batch", limit, 600) for _i in range(limit + 5)]
    assert answers[:limit] == [None] * limit and all(a is not None for a in answers[limit + 1:])
    assert throttle.counts(["test:batch"], 600)["test:batch"][0] in (500, 510)


@override_settings(PUBLIC_FORM_RATE=(2, 600))
def test_public_forms_per_address(cast):
    from fangkong.declarations import actions

    point = actions.ensure_point(acting_user=cast.committee_a, place=cast.comm_a)
    codes = [Client().post(f"/d/{point.code}/", {"name": ""}, REMOTE_ADDR=A).status_code for _i in range(3)]
    assert codes[:2] != [429, 429] and codes[2] == 429
    resp = Client().post("/api/declarations/public", data=json.dumps({"code": point.code}),
                         content_type="application/json", REMOTE_ADDR=A)
    assert resp.status_code == 429 and int(resp["Retry-After"]) > 0
    assert Client().post(f"/d/{point.code}/", {"name": ""}, REMOTE_ADDR=B).status_code != 429
    assert Client().get(f"/d/{point.code}/", REMOTE_ADDR=A).status_code == 200  # the page itself still shows


@override_settings(PUBLIC_FORM_RATE=(1, 600))
def test_one_time_sign_in_links_per_address(db):
    c = Client()
    assert c.post("/signin/not-a-token-0123456789abcdef/", {"password": "x"}, REMOTE_ADDR=A).status_code != 429
    resp = c.post("/signin/not-a-token-0123456789abcdef/", {"password": "x"}, REMOTE_ADDR=A)
    assert resp.status_code == 429 and "Retry-After" in resp


@pytest.mark.django_db(transaction=True)
def test_increments_from_many_connections_are_not_lost():
    """The database cache's incr is atomic (Django's reads and writes back: lost updates)."""
    throttle.count("test:race", 600)
    errors = []

    def bump():
        try:
            for _i in range(20):
                throttle.count("test:race", 600)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=bump) for _i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and throttle.counts(["test:race"], 600)["test:race"][0] == 121


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


SECOND_PROCESS = """
import django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "fangkong.settings"
django.setup()
from django.test import Client
for _i in range(5):
    Client().post("/login/", {"username": "ghost", "password": "wrong-password"}, REMOTE_ADDR="203.0.113.7")
from fangkong.lib import throttle
print(throttle.count("test:shared", 600))
"""


@pytest.mark.django_db(transaction=True)
def test_two_processes_share_the_counters():
    """Another process (another server) signs in wrongly five times: this one then refuses
    the name from that address, and a counter this process started is continued there."""
    assert throttle.count("test:shared", 600) == 1
    env = {**os.environ, "DATABASE_URL": _database_url(), "FANGKONG_ENV": "test"}
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        env["FANGKONG_REDIS_URL"] = settings.CACHES["default"]["LOCATION"]
    proc = subprocess.run([sys.executable, "-c", SECOND_PROCESS], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == "2"
    resp = attempt("ghost", "whatever-password", A)
    assert resp.status_code == 429 and int(resp["Retry-After"]) > 0
    failed = AuditEvent.objects.filter(action="auth.login", outcome="failed")
    before = failed.count()
    attempt("ghost", "whatever-password", B)  # another address: its guess is checked (and fails)
    assert failed.count() == before + 1


def _redis_up(url: str) -> bool:
    try:
        import redis

        return redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except Exception:  # noqa: BLE001
        return False


REDIS = os.environ.get("FANGKONG_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.mark.skipif(not _redis_up(REDIS), reason="no Redis at " + REDIS)
def test_counters_on_redis(db):
    caches = {**settings.CACHES, "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                             "LOCATION": REDIS, "KEY_PREFIX": f"fangkong-test-{os.getpid()}"}}
    with override_settings(CACHES=caches):
        throttle.reset("test:redis")
        try:
            assert [throttle.hit("test:redis", 2, 600) for _i in range(3)][:2] == [None, None]
            assert 0 < throttle.over("test:redis", 2, 600) <= 600
        finally:
            throttle.reset("test:redis")
            cache.close()


def test_redis_is_the_cache_when_configured(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FANGKONG_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"FANGKONG_VAR": str(tmp_path), "FANGKONG_ENV": "production", "FANGKONG_SECRET_KEY": "s" * 50,
                "FANGKONG_DATA_KEY": "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=",
                "FANGKONG_INDEX_KEY": "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=", "FANGKONG_ALLOWED_HOSTS": "x",
                "FANGKONG_PUBLIC_URL": "https://x.example",
                "REDIS_URL": "redis://127.0.0.1:6379/0"})
    code = "import fangkong.settings as s; print(s.CACHES['default']['BACKEND'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "django.core.cache.backends.redis.RedisCache", out.stderr
    del env["REDIS_URL"]
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "fangkong.lib.cache.DatabaseCache", out.stderr


def test_a_counter_expiring_this_second_is_counted_not_an_error(db):
    """From a PostgreSQL fuzz run: a counter whose expiry was the current second was present
    for the cache's add and missing for its incr, and the request failed with a 500."""
    from django.utils import timezone

    from fangkong.lib.cache import DatabaseCache

    c = throttle._cache()
    if not isinstance(c, DatabaseCache):
        pytest.skip("the database cache only")
    throttle.reset("test:edge")
    assert throttle._bump("test:edge", 60) == 1
    key = c.make_and_validate_key(throttle.PREFIX + "test:edge")
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {connection.ops.quote_name(c._table)} SET expires = %s WHERE cache_key = %s",
                       [timezone.now().replace(microsecond=0), key])
    assert throttle._bump("test:edge", 60) in (1, 2)  # counted, whichever side of the second it fell
