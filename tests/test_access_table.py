"""The access module's table of roles and permissions, declared by the apps, and its
helpers (scope paths, tops, ancestors, holders). The matrix test walks every route with
every role in this table, so a module's new role is covered the day it is declared."""
from __future__ import annotations

import copy

import pytest

from fangkong.accounts.actions import add_grant
from fangkong.lib.workflow import Invalid
from fangkong.places import access
from tests.cast import make_user


@pytest.fixture
def table():
    """Declarations made in a test are undone after it."""
    saved = copy.deepcopy(access._ROLE_LABELS), copy.deepcopy(access._PERM_ROLES)
    yield access
    access._ROLE_LABELS.clear()
    access._ROLE_LABELS.update(saved[0])
    access._PERM_ROLES.clear()
    access._PERM_ROLES.update(saved[1])
    access._TABLE.clear()


def test_every_app_declares_its_own_permissions():
    perms = access.all_perms()
    # Each app's permissions carry its name and come from its permissions.py.
    for app in ("residents", "inflow", "observation", "census", "documents", "passes", "notify", "gates",
                "declarations", "dashboard", "reports", "places"):
        assert any(p.startswith(app + ".") for p in perms), app
    assert access.role_perms("admin") == perms
    assert "gates.enter" in access.role_perms("gate_guard") and str(access.role_label("gate_guard")) == "门岗"  # Chinese by default
    assert access.perm_roles("inflow.review") == {"committee"}


def test_a_module_adds_a_role_and_permissions(table, db, cast, login):
    table.declare(roles={"ranger": "Ranger"}, perms={"patrol.log": {"ranger", "committee"}},
                  extend={"passes.verify": {"ranger"}})
    assert "ranger" in table.all_roles()
    assert table.role_perms("ranger") == {"patrol.log", "passes.verify"}
    assert "patrol.log" in table.role_perms("committee") and "patrol.log" in table.role_perms("admin")
    officer = make_user("officer_a")
    add_grant(acting_user=None, user=officer, role="ranger", target=cast.comm_a)
    assert table.has_perm(officer, "passes.verify") and not table.has_perm(officer, "passes.issue")
    assert login(officer).get("/passes/").status_code == 403  # passes.view is not the police's


def test_bad_declarations_are_refused(table):
    with pytest.raises(ValueError, match="declared twice"):
        table.declare(perms={"inflow.view": {"committee"}})
    with pytest.raises(ValueError, match="declared twice"):
        table.declare(roles={"committee": "Someone else"})
    with pytest.raises(ValueError, match="undeclared"):
        table.declare(extend={"nothing.here": {"committee"}})
    with pytest.raises(ValueError, match="bad permission name"):
        table.declare(perms={"NoDot": {"committee"}})
    table.declare(perms={"ghost.haunt": {"ghost"}})
    with pytest.raises(ValueError, match="unknown roles"):
        table.all_perms()


def test_an_undeclared_role_cannot_be_granted(db, cast):
    user = make_user("nobody_new")
    with pytest.raises(Invalid):
        add_grant(acting_user=None, user=user, role="wizard", target=cast.comm_a)
    with pytest.raises(ValueError, match="unknown permission"):
        access.has_perm(user, "wizard.cast")


def test_scope_helpers(db, cast):
    worker, committee, admin = cast.worker_a1, cast.committee_a, cast.admin
    assert access.scope_paths(worker, "census.visit") == [cast.grid_a1.path]
    assert access.scope_paths(admin, "census.visit") is None
    assert access.scope_paths(cast.guard_a, "census.visit") == []
    assert access.ancestor_paths(cast.grid_a1.path) == [cast.street.path, cast.comm_a.path, cast.grid_a1.path]
    two = make_user("two_places")
    add_grant(acting_user=None, user=two, role="committee", target=cast.comm_a)
    add_grant(acting_user=None, user=two, role="committee", target=cast.grid_a1)
    add_grant(acting_user=None, user=two, role="committee", target=cast.comm_b)
    assert access.top_paths(two, "census.view") == sorted([cast.comm_a.path, cast.comm_b.path])
    assert access.scope_orgs(cast.liaison_x, "inflow.apply") == [cast.org_x.pk]
    # ancestors: a campaign over the street is visible to a grid's worker, one in another community is not
    from fangkong.places.models import Place
    seen = set(access.scope(Place.objects.all(), worker, "census.view", ancestors=True).values_list("pk", flat=True))
    assert {cast.street.pk, cast.comm_a.pk, cast.grid_a1.pk} <= seen and cast.comm_b.pk not in seen
    assert access.scope_paths(committee, "census.view") == [cast.comm_a.path]


def test_holders_are_chosen_by_permission_never_admins(db, cast):
    names = lambda qs: set(qs.values_list("username", flat=True))  # noqa: E731
    assert names(access.holders("inflow.review", place_path=cast.compound_a1.path)) == {"committee_a"}
    assert "worker_a1" in names(access.holders("observation.alerted", place_path=cast.compound_a1.path))
    assert "worker_b1" not in names(access.holders("observation.alerted", place_path=cast.compound_a1.path))
    assert names(access.holders("inflow.travel", org_id=cast.org_x.pk)) == {"liaison_x"}
    assert not names(access.holders("inflow.review"))  # no place, no organization: nobody
    assert "admin" not in names(access.holders("notify.manage", place_path=cast.grid_a1.path))


@pytest.mark.parametrize("route", ["/api/passes/resident", "/api/findings"])
def test_a_typed_id_number_out_of_scope_looks_unregistered(db, cast, login, route):
    """The one lookup by a typed ID (residents.queries.find_person), as every module uses it:
    another community's resident and an unregistered number get the same answer, byte for
    byte; full-width digits typed with a Chinese input method are read; nothing is stored."""
    import datetime as dt
    import json

    from tests.cast import make_id

    client = login(cast.committee_a)
    unknown = make_id(999, region="110101")

    def answer(id_number):
        body = {"id_number": id_number, "days": 14, "kind": "travel", "evidence": "neighbours saw the car",
                "found_on": dt.date.today().isoformat()}
        resp = client.post(route, data=json.dumps(body), content_type="application/json")
        return resp.status_code, resp.content

    assert answer(cast.ids["person_b1"]) == answer(unknown)
    assert answer(unknown)[0] == 422 and b'"field": "id_number"' in answer(unknown)[1]
    full_width = cast.ids["person_a1"].translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})
    assert answer(full_width)[0] in (200, 201)


def test_find_person_itself(db, cast):
    from fangkong.residents.queries import find_person

    assert find_person(cast.committee_a, "residents.view", " " + cast.ids["person_a1"] + " ") == cast.person_a1
    for typed in (cast.ids["person_b1"], "not a number", ""):
        with pytest.raises(Invalid) as exc:
            find_person(cast.committee_a, "residents.view", typed, field="owner_id_number")
        assert list(exc.value.errors) == ["owner_id_number"]


def test_a_grant_counts_exactly_within_its_dates(db, cast, login):
    """The access check itself honours a grant's dates (the hourly task that keeps `active`
    in step may not have run yet): the first and last days count, the day after does not;
    a revoked grant never counts."""
    import datetime as dt

    from django.utils import timezone

    from fangkong.places.models import Grant

    user = make_user("until_today")
    add_grant(acting_user=None, user=user, role="committee", target=cast.comm_a)
    grant = Grant.objects.get(user=user)
    today = timezone.localdate()
    Grant.objects.filter(pk=grant.pk).update(ends_on=today)
    assert login(user).get("/residents/").status_code == 200
    assert "committee_b" not in set(access.holders("inflow.review", place_path=cast.comm_a.path).values_list("username", flat=True))
    assert "until_today" in set(access.holders("inflow.review", place_path=cast.comm_a.path).values_list("username", flat=True))
    Grant.objects.filter(pk=grant.pk).update(ends_on=today - dt.timedelta(days=1))  # still active=True
    assert login(user).get("/residents/").status_code == 403
    assert "until_today" not in set(access.holders("inflow.review", place_path=cast.comm_a.path).values_list("username", flat=True))
    Grant.objects.filter(pk=grant.pk).update(ends_on=None, starts_on=today + dt.timedelta(days=1))
    assert login(user).get("/residents/").status_code == 403
    # Its first day: in force at once, though the hourly task has not set `active` yet.
    Grant.objects.filter(pk=grant.pk).update(starts_on=today, active=False)
    assert login(user).get("/residents/").status_code == 200
    # Revoked: out, whatever its dates say.
    Grant.objects.filter(pk=grant.pk).update(active=False, revoked_at=timezone.now())
    assert login(user).get("/residents/").status_code == 403
