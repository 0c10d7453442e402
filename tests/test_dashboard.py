"""The dashboard through HTTP: its figures equal what was stored through the app and add
up the tree (street = A + B, a community = its grids + what lies at it directly), it
shows whatever metrics are registered, it is scoped to the viewer's grants, and bad
parameters get clear 4xx answers."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from fangkong.census import actions as census
from fangkong.census.models import Visit
from fangkong.census.standard import standard
from fangkong.lib import registry
from fangkong.observation import actions as observation
from fangkong.observation.models import Observation

SAFE = {"source_area": "no", "contact_source": "no", "contact_confirmed": "no", "gathering": "no"}


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def api(client, place, **params):
    return client.get(f"/api/dashboard/{place.pk}", params)


def activity(cast):
    """Observations and census visits in communities A and B, today and days before,
    made through the app's actions."""
    today = timezone.localdate()
    observation.start(acting_user=cast.committee_a, person=cast.person_a1, kind="home_observation", days=14)
    observation.start(acting_user=cast.committee_a, person=cast.person_a2, kind="home_observation", days=14,
                      start_date=today - dt.timedelta(days=3))
    observation.start(acting_user=cast.committee_b, person=cast.person_b1, kind="home_observation", days=14)
    campaign = census.create_campaign(acting_user=None, name="全街普查", place=cast.street,
                                      start_date=today - dt.timedelta(days=5), end_date=today, questionnaire=standard())
    campaign = census.transition(acting_user=None, campaign=campaign, action="start")
    census.record_visit(acting_user=cast.worker_a1, campaign=campaign, household=cast.hh_a1, outcome="reached",
                        members={cast.person_a1.pk: SAFE})
    census.record_visit(acting_user=cast.worker_b1, campaign=campaign, household=cast.hh_b1, outcome="nobody_home")
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    census.record_visit(acting_user=cast.committee_a, campaign=campaign, household=cast.hh_a2, outcome="reached",
                        members={cast.person_a2.pk: SAFE}, at=two_days_ago)
    return today


def stored(place, day):
    """What the stored rows say for `place` on `day` (counted here, not by the metrics)."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    visits = Visit.objects.filter(place_path__startswith=place.path, visited_at__gte=start,
                                  visited_at__lt=start + dt.timedelta(days=1))
    return {
        "observation.new": Observation.objects.filter(place_path__startswith=place.path, start_date=day).count(),
        "census.household_visits": visits.count(),
        "census.person_visits": sum(v.persons for v in visits),
    }


@pytest.mark.django_db
def test_figures_equal_the_stored_rows_and_add_up_the_tree(cast):
    today = activity(cast)
    resp = api(as_user(cast.coordinator), cast.street, days=7)
    assert resp.status_code == 200, resp.content
    street = resp.json()
    assert street["place"]["id"] == cast.street.pk and street["day"] == today.isoformat() and street["days"] == 7
    keys = [m["key"] for m in street["metrics"]]
    assert keys == [m.key for m in registry.metrics()]  # whatever is registered, in order
    # The street's figures are those of the stored rows.
    for key, n in stored(cast.street, today).items():
        assert street["total"][key] == n, key
    assert street["total"]["observation.new"] == 2 and street["total"]["census.household_visits"] == 2
    assert street["total"]["census.person_visits"] == 1  # hh_b1 was not reached
    assert street["total"]["observation.active"] == 3
    # street = A + B, for every metric; the children are the street's communities.
    kids = {c["id"]: c["figures"] for c in street["children"]}
    assert set(kids) == {cast.comm_a.pk, cast.comm_b.pk}
    for key in keys:
        assert street["total"][key] == kids[cast.comm_a.pk][key] + kids[cast.comm_b.pk][key] + street["direct"][key]
        assert street["direct"][key] == 0
    for place in (cast.comm_a, cast.comm_b):
        for key, n in stored(place, today).items():
            assert kids[place.pk][key] == n, (place.name, key)
    # A's grids add up to A.
    a = api(as_user(cast.coordinator), cast.comm_a, days=7).json()
    grids = {c["id"]: c["figures"] for c in a["children"]}
    assert set(grids) == {cast.grid_a1.pk, cast.grid_a2.pk}
    for key in keys:
        assert a["total"][key] == sum(g[key] for g in grids.values()) + a["direct"][key]
        assert a["total"][key] == kids[cast.comm_a.pk][key]
    assert grids[cast.grid_a1.pk]["observation.new"] == 1 and grids[cast.grid_a2.pk]["observation.active"] == 1
    # The trend: one value per day, ending today, as the stored rows say.
    trend = street["trend"]
    assert trend["dates"] == [(today - dt.timedelta(days=i)).isoformat() for i in range(6, -1, -1)]
    for i, d in enumerate(trend["dates"]):
        day = dt.date.fromisoformat(d)
        for key, n in stored(cast.street, day).items():
            assert trend["series"][key][i] == n, (d, key)
    assert trend["series"]["observation.new"][-4] == 1  # A2's observation started 3 days ago
    assert trend["series"]["census.household_visits"][-3] == 1  # A2's visit 2 days ago
    # A's trend, read after the street's (its past days come from the street's cached
    # entries, which hold the communities' figures), is A's stored rows, and B's is B's.
    for place in (cast.comm_a, cast.comm_b):
        series = api(as_user(cast.coordinator), place, days=7).json()["trend"]["series"]
        for i, d in enumerate(trend["dates"]):
            for key, n in stored(place, dt.date.fromisoformat(d)).items():
                assert series[key][i] == n, (place.name, d, key)


@pytest.mark.django_db
def test_a_past_day_and_its_trend(cast):
    today = activity(cast)
    three_days_ago = today - dt.timedelta(days=3)
    data = api(as_user(cast.committee_a), cast.comm_a, day=three_days_ago.isoformat(), days=3).json()
    assert data["day"] == three_days_ago.isoformat() and data["trend"]["dates"][-1] == three_days_ago.isoformat()
    assert data["total"]["observation.new"] == 1 and len(data["trend"]["series"]["observation.new"]) == 3


@pytest.mark.django_db
def test_whatever_metric_is_registered_is_shown(cast, monkeypatch):
    """A module registered later (declarations, say) appears without touching the dashboard."""
    monkeypatch.setattr(registry, "_METRICS", dict(registry._METRICS))
    registry.register_metric(registry.Metric(
        key="test.declarations", label="自我申报份数", section="测试申报",
        counts=lambda day: [(cast.grid_b1.path, 5), (cast.compound_a1.path, 2)], order=999))
    data = api(as_user(cast.commander), cast.street).json()
    assert data["metrics"][-1] == {"key": "test.declarations", "label": "自我申报份数", "section": "测试申报", "kind": "day"}
    assert data["total"]["test.declarations"] == 7
    assert {c["id"]: c["figures"]["test.declarations"] for c in data["children"]} == {cast.comm_a.pk: 2, cast.comm_b.pk: 5}
    assert data["trend"]["series"]["test.declarations"] == [7] * 14
    page = as_user(cast.commander).get("/dashboard/")
    html = page.content.decode()
    assert page.status_code == 200 and "测试申报" in html and "自我申报份数" in html
    card = re.search(r'data-metric="test.declarations"><strong>(\d+)</strong>', html)
    assert card and card.group(1) == "7"


@pytest.mark.django_db
def test_today_is_not_cached(cast):
    client = as_user(cast.committee_a)
    before = api(client, cast.comm_a).json()["total"]["observation.new"]
    observation.start(acting_user=cast.committee_a, person=cast.person_a1, kind="home_observation", days=14)
    assert api(client, cast.comm_a).json()["total"]["observation.new"] == before + 1


@pytest.mark.django_db
def test_the_page_lands_on_the_viewers_place_with_cards_table_and_breadcrumb(cast):
    activity(cast)
    cases = [
        ("commander", cast.street, [cast.comm_a, cast.comm_b], [cast.street]),
        ("coordinator", cast.street, [cast.comm_a, cast.comm_b], [cast.street]),
        ("admin", cast.street, [cast.comm_a, cast.comm_b], [cast.street]),
        ("committee_a", cast.comm_a, [cast.grid_a1, cast.grid_a2], [cast.comm_a]),
        ("medic_a", cast.comm_a, [cast.grid_a1, cast.grid_a2], [cast.comm_a]),
        ("worker_a1", cast.grid_a1, [cast.compound_a1], [cast.grid_a1]),
    ]
    for username, place, children, crumbs in cases:
        resp = as_user(getattr(cast, username)).get("/dashboard/")
        assert resp.status_code == 200, username
        html = resp.content.decode()
        assert f"<h1>{place.name} " in html, username
        rows = re.findall(r'<tr data-place="(\d+)">', html)
        assert rows == [str(c.pk) for c in children], username
        crumb = html.split('id="breadcrumb"')[1].split("</nav>")[0]
        assert [p.name for p in crumbs][-1] in crumb
        # No name of a place outside the grant is on the page.
        outside = {"committee_a": [cast.comm_b, cast.street], "medic_a": [cast.comm_b], "worker_a1": [cast.grid_a2, cast.comm_b]}
        for other in outside.get(username, []):
            assert other.name not in html, (username, other.name)
    # The community's card of observations started today says what is stored.
    html = as_user(cast.committee_a).get("/dashboard/").content.decode()
    card = re.search(r'data-metric="observation.new"><strong>(\d+)</strong>', html)
    assert card and int(card.group(1)) == stored(cast.comm_a, timezone.localdate())["observation.new"] == 1
    # Drill-down page of a grid, seen by the coordinator: the breadcrumb goes up to the street.
    html = as_user(cast.coordinator).get(f"/dashboard/{cast.grid_a1.pk}/").content.decode()
    crumb = html.split('id="breadcrumb"')[1].split("</nav>")[0]
    assert re.findall(r'data-place="(\d+)"', crumb) == [str(cast.street.pk), str(cast.comm_a.pk)]
    # ... and by the committee of A: up to A only.
    html = as_user(cast.committee_a).get(f"/dashboard/{cast.grid_a1.pk}/").content.decode()
    crumb = html.split('id="breadcrumb"')[1].split("</nav>")[0]
    assert re.findall(r'data-place="(\d+)"', crumb) == [str(cast.comm_a.pk)] and cast.street.name not in crumb


@pytest.mark.django_db
def test_scoping(cast):
    # Other jurisdiction: 404 on the page and in the API, whether it exists or not.
    for user, place in [(cast.committee_a, cast.comm_b), (cast.committee_a, cast.street), (cast.worker_a1, cast.grid_a2),
                        (cast.worker_a1, cast.comm_a), (cast.worker_b1, cast.grid_a1), (cast.medic_a, cast.grid_b1)]:
        client = as_user(user)
        assert client.get(f"/dashboard/{place.pk}/").status_code == 404, (user.username, place.name)
        assert api(client, place).status_code == 404, (user.username, place.name)
    for user, place in [(cast.committee_a, cast.grid_a2), (cast.worker_a1, cast.compound_a1), (cast.coordinator, cast.grid_b1)]:
        client = as_user(user)
        assert client.get(f"/dashboard/{place.pk}/").status_code == 200
        assert api(client, place).status_code == 200
    assert as_user(cast.admin).get("/dashboard/999999/").status_code == 404
    # Roles without the dashboard: 403.
    for user in (cast.guard_a, cast.liaison_x, cast.volunteer, cast.nogrant):
        client = as_user(user)
        assert client.get("/dashboard/").status_code == 403, user.username
        assert client.get(f"/dashboard/{cast.grid_a1.pk}/").status_code == 403, user.username
        assert api(client, cast.compound_a1).status_code == 403, user.username
        assert "/dashboard/" not in client.get("/").content.decode()  # no link to it either
    assert 'href="/dashboard/"' in as_user(cast.coordinator).get("/").content.decode()
    # Anonymous: to sign in / 401.
    anon = Client()
    resp = anon.get(f"/dashboard/{cast.comm_a.pk}/")
    assert resp.status_code == 302 and "/login/" in resp["Location"]
    assert anon.get("/dashboard/").status_code == 302
    assert api(anon, cast.comm_a).status_code == 401


@pytest.mark.django_db
def test_several_grants_choose_a_place_and_an_organization_grant_shows_none(cast):
    from tests.cast import make_user

    both = make_user("a1_and_b1", [("grid_worker", cast.grid_a1), ("grid_worker", cast.grid_b1)])
    html = as_user(both).get("/dashboard/").content.decode()
    assert re.findall(r'href="/dashboard/(\d+)/"', html.split('id="roots"')[1]) == [str(cast.grid_a1.pk), str(cast.grid_b1.pk)]
    nested = make_user("a_and_a1", [("committee", cast.comm_a), ("grid_worker", cast.grid_a1)])
    assert f"<h1>{cast.comm_a.name} " in as_user(nested).get("/dashboard/").content.decode()
    site_medic = make_user("site_medic", [("medic", cast.site)])
    resp = as_user(site_medic).get("/dashboard/")
    assert resp.status_code == 200 and 'id="no-place"' in resp.content.decode()
    assert api(as_user(site_medic), cast.street).status_code == 404


@pytest.mark.django_db
def test_bad_parameters_get_clear_errors(cast):
    client = as_user(cast.coordinator)
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    for params, field in [({"days": "0"}, "days"), ({"days": "abc"}, "days"), ({"days": "10000"}, "days"),
                          ({"days": "-3"}, "days"), ({"days": "１４"}, "days"), ({"day": tomorrow}, "day"),
                          ({"day": "2026-02-30"}, "day"), ({"day": "yesterday"}, "day"), ({"day": "0001-01-01"}, "day")]:
        resp = api(client, cast.street, **params)
        assert resp.status_code == 422, (params, resp.status_code)
        assert [e["field"] for e in resp.json()["detail"]] == [field], params
        assert all(e["message"] for e in resp.json()["detail"])
        page = client.get("/dashboard/", params)
        assert page.status_code == 400, params
        assert 'id="param-errors"' in page.content.decode()
    resp = api(client, cast.street, days="0", day="x")
    assert sorted(e["field"] for e in resp.json()["detail"]) == ["day", "days"]
    # Chinese by default, English when chosen.
    assert "天数" in api(client, cast.street, days="0").json()["detail"][0]["message"]
    client.cookies["django_language"] = "en"
    assert "days" in api(client, cast.street, days="0").json()["detail"][0]["message"]
    # Ids that cannot exist: 404, not 500.
    assert client.get(f"/api/dashboard/{2**70}").status_code in (404, 422)
    assert client.get(f"/dashboard/{2**70}/").status_code == 404
    assert client.get("/api/dashboard/abc").status_code in (404, 422)


@pytest.mark.django_db
def test_labels_follow_the_language(cast):
    client = as_user(cast.coordinator)
    zh = api(client, cast.street).json()
    active = next(m for m in zh["metrics"] if m["key"] == "observation.active")
    assert active["label"] != "Under observation" and not active["label"].isascii()
    assert zh["place"]["kind_label"] == "街道"
    client.cookies["django_language"] = "en"
    en = api(client, cast.street).json()
    assert next(m for m in en["metrics"] if m["key"] == "observation.active")["label"] == "Under observation"
    assert en["place"]["kind_label"] == "Street"
    assert "Dashboard" in client.get("/dashboard/").content.decode()


@pytest.mark.django_db
def test_wrong_methods(cast):
    client = as_user(cast.coordinator)
    for method in ("post", "put", "delete"):
        assert getattr(client, method)("/dashboard/").status_code == 405
        assert getattr(client, method)(f"/dashboard/{cast.comm_a.pk}/").status_code == 405
        assert getattr(client, method)(f"/api/dashboard/{cast.comm_a.pk}").status_code == 405
