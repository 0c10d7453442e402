"""Sign-in, lock-out, sign-out, home pages per role, and their audit events."""
import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core.cache import cache
from django.test import Client, override_settings

from fangkong.audit.models import AuditEvent
from fangkong.lib import throttle
from fangkong.places.access import all_roles
from tests.cast import PASSWORD, make_user


def test_login_success_and_audit(cast):
    client = Client()
    assert client.get("/login/").status_code == 200
    resp = client.post("/login/?next=/residents/", {"username": "committee_a", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
    assert resp.status_code == 302 and resp["Location"] == "/residents/"
    ev = AuditEvent.objects.get(action="auth.login", outcome="ok")
    assert ev.user == cast.committee_a and ev.ip == "10.1.2.3" and ev.roles == "committee"


def test_open_redirect_refused(cast):
    resp = Client().post("/login/?next=//evil.example/", {"username": "committee_a", "password": PASSWORD})
    assert resp["Location"] == "/"


def test_wrong_password_then_lockout(cast):
    client = Client()
    for i in range(5):
        resp = client.post("/login/", {"username": "committee_a", "password": "wrong-password"})
        assert resp.status_code in (401, 429)
    assert resp.status_code == 429 and int(resp["Retry-After"]) > 0  # the fifth failure guards the name
    # Even the right password is refused from the address that failed, while the window lasts.
    resp = client.post("/login/", {"username": "committee_a", "password": PASSWORD})
    assert resp.status_code == 429 and "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.login", outcome="failed").count() == 5
    assert AuditEvent.objects.filter(action="auth.login", outcome="locked").count() == 1
    # After the window (its counters gone from the shared cache, and the refusal this
    # process remembers until then) it works again.
    cache.clear()
    throttle.forget_local()
    assert client.post("/login/", {"username": "committee_a", "password": PASSWORD}).status_code == 302


def test_unknown_user_is_throttled_the_same(db):
    client = Client()
    codes = [client.post("/login/", {"username": "ghost", "password": "x" * 12}).status_code for _ in range(6)]
    assert codes[:4] == [401] * 4 and codes[4:] == [429, 429]


def test_empty_form_is_400(db):
    assert Client().post("/login/", {}).status_code == 400


def test_strong_hasher(cast):
    assert identify_hasher(cast.committee_a.password).algorithm == "argon2"


def test_inactive_user_cannot_sign_in(cast):
    cast.committee_a.is_active = False
    cast.committee_a.save()
    assert Client().post("/login/", {"username": "committee_a", "password": PASSWORD}).status_code == 401


def test_logout(cast, login):
    client = login(cast.committee_a)
    assert client.post("/logout/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.logout", user=cast.committee_a).exists()
    assert client.get("/residents/").status_code == 302


@pytest.mark.parametrize("role", [r for r in all_roles() if r != "resident"])
def test_home_page_for_every_role(cast, login, role):
    from fangkong.places.access import has_perm
    from fangkong.places.actions import create_organization
    from tests.cast import make_user

    cast_users = {"admin": cast.admin, "commander": cast.commander, "coordinator": cast.coordinator,
                  "committee": cast.committee_a, "grid_worker": cast.worker_a1, "medic": cast.medic_a,
                  "gate_guard": cast.guard_a, "unit_liaison": cast.liaison_x, "volunteer": cast.volunteer,
                  "duty_officer": cast.duty_s, "inspector": cast.inspector}
    if role in cast_users:
        user = cast_users[role]
    elif role == "hq_member":  # held by membership of a headquarters' working group, never granted
        from fangkong.command import actions as command
        from tests.matrix.command import group

        user = make_user("home_hq_member")
        command.add_member(acting_user=None, group=group(cast), user=user)
    else:  # the modules' own roles, each over the kind of place or unit it is granted on
        lab = create_organization(acting_user=None, kind="clinic", name="实验室", code="LABH", place=cast.street)
        target = {"police": cast.comm_a, "site_lead": cast.orgs["site"], "storekeeper": cast.street,
                  "registrar": cast.orgs["site"], "lab": lab, "property": cast.compound_a1}[role]
        user = make_user(f"home_{role}", [(role, target)])
    resp = login(user).get("/")
    body = resp.content.decode()
    assert resp.status_code == 200
    if has_perm(user, "residents.view"):
        assert 'href="/residents/"' in body
    else:
        assert "靶子" not in body and 'href="/residents/"' not in body


def test_home_counts_are_scoped(cast, login):
    body = login(cast.worker_a1).get("/").content.decode()
    # grid A1 holds one person and one household
    assert "<strong>1</strong>" in body
    assert 'href="/residents/?tag=elderly_alone"><strong>1</strong>' in body


def test_no_grant_home(cast, login):
    resp = login(cast.nogrant).get("/")
    assert resp.status_code == 200 and 'href="/residents/"' not in resp.content.decode()


def test_anonymous_sent_to_login(db):
    resp = Client().get("/residents/")
    assert resp.status_code == 302 and resp["Location"].startswith("/login/?next=")


def test_the_signed_in_users_grants_come_with_the_user_in_one_read(cast, django_assert_num_queries):
    """The backend reads the user and its active grants in one statement (user_with_grants):
    the same grants as the grants query, in grant order; a revoked grant is gone on the next
    request; a user without grants has none; an inactive user is nobody."""
    from django.contrib.auth.models import AnonymousUser

    from fangkong.accounts.actions import add_grant, revoke_grant
    from fangkong.accounts.backends import Backend
    from fangkong.places import access

    user = make_user("two_hats", [("grid_worker", cast.grid_a1), ("medic", cast.comm_a), ("committee", cast.comm_b)])
    revoke_grant(acting_user=None, user=user, role="committee", target=cast.comm_b)
    expected = access.grants(type(user).objects.get(pk=user.pk))  # the grants query of its own
    with django_assert_num_queries(1):
        loaded = Backend().get_user(str(user.pk))
        assert access.grants(loaded) == expected  # no second read
    # Its roles add the roles held by membership (a headquarters' working group): read only
    # when asked (the auth version, then the members: kept under that version).
    with django_assert_num_queries(2):
        assert access.roles(loaded) == ["grid_worker", "medic"]
    assert [(g.role, g.place_id, g.place_path) for g in expected] == [
        ("grid_worker", cast.grid_a1.pk, cast.grid_a1.path), ("medic", cast.comm_a.pk, cast.comm_a.path)]
    assert loaded.username == "two_hats" and loaded.date_joined == user.date_joined and loaded.is_active is True
    add_grant(acting_user=None, user=user, role="committee", target=cast.comm_b)
    assert access.roles(Backend().get_user(user.pk)) == ["committee", "grid_worker", "medic"]
    bare = make_user("no_hats")
    assert access.grants(Backend().get_user(bare.pk)) == []
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert Backend().get_user(user.pk) is None and Backend().get_user(10**9) is None and Backend().get_user("x") is None
    assert access.grants(AnonymousUser()) == []
    # Through HTTP: each request reads the grants anew, so a grant given counts at once.
    client = Client()
    client.force_login(bare)
    assert client.get("/residents/").status_code == 403
    add_grant(acting_user=None, user=bare, role="committee", target=cast.comm_a)
    assert client.get("/residents/").status_code == 200


def test_the_signed_in_user_is_kept_across_requests_until_what_it_is_read_from_changes(cast):
    """A process keeps the signed-in user, its grants and its memberships across requests
    under the auth version, which the database changes on every write to what they are read
    from (triggers: a queryset update, raw SQL or another server's write alike). The next
    request after any such write sees it; a rolled-back change leaves nothing behind."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from fangkong.accounts.backends import Backend
    from fangkong.command.actions import add_group, add_member, create_hq, remove_member
    from fangkong.places import access
    from fangkong.places.models import Grant, Place

    user = make_user("kept", [("committee", cast.comm_a)])
    client = Client()
    client.force_login(user)
    user_table = connection.ops.quote_name(type(user)._meta.db_table)

    def get(path="/residents/"):
        with CaptureQueriesContext(connection) as ctx:
            status = client.get(path).status_code
        return status, [q["sql"] for q in ctx.captured_queries]

    assert get()[0] == 200
    status, sqls = get()
    assert status == 200 and not any(f"FROM {user_table}" in q for q in sqls), sqls  # kept: no read of the user
    assert "n FROM" in sqls[0]  # the session's statement reads the version

    def as_next_request(pk=user.pk):
        access.saw_auth_version(access.read_auth_version())  # what the session's statement does
        return Backend().get_user(pk)

    # A grant revoked by a queryset update (no signal, no action): the next request knows.
    Grant.objects.filter(user=user).update(revoked_at=timezone.now())
    assert get()[0] == 403
    Grant.objects.filter(user=user).update(revoked_at=None)
    assert get()[0] == 200
    # The account turned off by raw SQL: signed out at the next request.
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {user_table} SET is_active = %s WHERE id = %s", [False, user.pk])
    assert get()[1] and client.get("/residents/").status_code == 302
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {user_table} SET is_active = %s WHERE id = %s", [True, user.pk])
    assert get()[0] == 200
    # The last sign-in time is written at every sign-in and changes no version.
    before = access.read_auth_version()
    type(user).objects.filter(pk=user.pk).update(last_login=timezone.now())
    assert access.read_auth_version() == before
    # A place's path redrawn: the grant's scope follows it.
    Place.objects.filter(pk=cast.comm_a.pk).update(path=cast.comm_a.path)  # the same value: still a write
    assert access.read_auth_version() != before
    # Memberships: joining a working group gives hq_member at the next request, leaving ends it.
    hq = create_hq(acting_user=None, place=cast.street, name="HQ")
    group = add_group(acting_user=None, hq=hq, name="G")
    assert "hq_member" not in access.roles(as_next_request())
    add_member(acting_user=None, group=group, user=user)
    assert "hq_member" in access.roles(as_next_request())
    kept = as_next_request()
    with CaptureQueriesContext(connection) as ctx:
        assert "hq_member" in access.roles(kept)
    assert len(ctx.captured_queries) == 0  # the memberships were kept too
    remove_member(acting_user=None, group=group, user=user)
    assert "hq_member" not in access.roles(as_next_request())
    # A change rolled back: what was read inside it is kept under a version nobody sees again.
    with pytest.raises(RuntimeError), transaction.atomic():
        Grant.objects.filter(user=user).update(revoked_at=timezone.now())
        assert access.grants(as_next_request()) == []
        raise RuntimeError("rolled back")
    assert [g.role for g in access.grants(as_next_request())] == ["committee"]
    assert get()[0] == 200
    # No version (the row gone, as after a flush): nothing is kept, everything is read.
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {connection.ops.quote_name('places_authversion')}")
    assert access.read_auth_version() is None
    assert get()[0] == 200
    status, sqls = get()
    assert status == 200 and any(f"FROM {user_table}" in q for q in sqls)
