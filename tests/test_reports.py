"""The daily report (M8): through HTTP like a user, then the stored state.

* totals equal the sum of their parts at every level (hypothesis over random trees and rows)
  and equal an independent hand-written SQL count;
* entered figures: works / 403 / 404 / 405 / clear errors; confirm locks; reopen;
* who is late, and their inbox;
* closing keeps the day as it was; later changes show as corrections;
* XLSX laid out like the paper form (merged headers, totals) and CSV.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangkong.audit.models import AuditEvent
from fangkong.lib import registry
from fangkong.gates.models import GateEntry
from fangkong.notify.models import Recipient
from fangkong.observation.models import Observation, Report
from fangkong.places.actions import create_place
from fangkong.places.models import Place
from fangkong.reports import actions
from fangkong.reports.figures import place_figures, place_series
from fangkong.reports.models import ClosedDay, Correction, FigureDefinition, Submission
from fangkong.residents.models import Person
from tests.cast import make_user

_uid = itertools.count(1)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def yesterday() -> dt.date:
    return timezone.localdate() - dt.timedelta(days=1)


def gate(place: Place, when: dt.datetime, decision: str = "allowed", temperature=None) -> GateEntry:
    return GateEntry.objects.create(client_id=uuid.uuid4(), place=place, place_path=place.path, direction="in",
                                    decision=decision, temperature=temperature, occurred_at=when, device_time=when,
                                    received_at=when)


def person_at(place: Place) -> Person:
    n = next(_uid)
    return Person.objects.create(place=place, place_path=place.path, name=f"测{n}", id_enc=b"x", id_bidx=f"bidx{n}-{uuid.uuid4().hex[:8]}",
                                 id_masked="370102********0000", sex="M", birth_date=dt.date(1980, 1, 1))


def observe(place: Place, start: dt.date, reports: list[tuple[dt.date, int]] = ()) -> Observation:
    obs = Observation.objects.create(person=person_at(place), kind=Observation.Kind.HOME, place_path=place.path,
                                     start_date=start, planned_end=start + dt.timedelta(days=14))
    Observation.objects.filter(pk=obs.pk).update(created_at=at(start, 8))
    for day, window in reports:
        Report.objects.create(observation=obs, day=day, window=window, temperature="36.6", source="self",
                              reported_at=at(day, 9 + window * 6))
    return obs


def api_report(client, day, place) -> dict:
    resp = client.get("/api/reports/daily", {"day": day.isoformat(), "place_id": place.pk})
    assert resp.status_code == 200, resp.content
    return resp.json()


# --- Totals = sum of parts, at every level ---------------------------------------------------

tree_spec = st.lists(st.lists(st.integers(min_value=0, max_value=2), min_size=1, max_size=3), min_size=1, max_size=3)
events = st.lists(st.tuples(st.sampled_from(["gate", "refused", "fever", "obs", "report"]),
                            st.integers(min_value=0, max_value=10**6), st.sampled_from([-1, 0, 0, 0, 1]),
                            st.integers(min_value=0, max_value=23)), max_size=40)


def _build_tree(street, spec) -> list[Place]:
    """street → len(spec) communities → grids (one per entry) → that many compounds."""
    places = []
    n = next(_uid)
    for ci, grids in enumerate(spec):
        comm = create_place(acting_user=None, kind="community", name=f"社区{ci}", code=f"P{n}C{ci}", parent=street)
        places.append(comm)
        for gi, compounds in enumerate(grids):
            grid = create_place(acting_user=None, kind="grid", name=f"网格{ci}-{gi}", code=f"P{n}C{ci}G{gi}", parent=comm)
            places.append(grid)
            for k in range(compounds):
                places.append(create_place(acting_user=None, kind="compound", name=f"小区{ci}-{gi}-{k}",
                                           code=f"P{n}C{ci}G{gi}K{k}", parent=grid))
    return places


def _check_level(client, day, place, expected_leaf_counts, seen):
    """The report of `place`: totals = sum of rows; each row with children = its own report's
    totals (recursively); every figure = the independent count of the generated rows."""
    rep = api_report(client, day, place)
    keys = [c["key"] for c in rep["columns"]]
    for key in keys:
        assert rep["totals"][key] == sum(r["figures"][key] for r in rep["rows"]), (place.name, key)
    for key, want in expected_leaf_counts(place).items():
        assert rep["totals"][key] == want, (place.name, key, rep["totals"][key], want)
    seen.add(place.pk)
    for row in rep["rows"]:
        child = Place.objects.get(pk=row["place_id"])
        for key, want in expected_leaf_counts(child).items():
            if child.pk != place.pk:
                assert row["figures"][key] == want, (child.name, key)
        if child.pk != place.pk and child.children.exists():
            sub = _check_level(client, day, child, expected_leaf_counts, seen)
            assert sub["totals"] == row["figures"], child.name
    return rep


@pytest.mark.django_db
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(spec=tree_spec, evs=events)
def test_totals_are_the_sum_of_their_parts_at_every_level(spec, evs):
    day = timezone.localdate()
    with transaction.atomic():
        street = create_place(acting_user=None, kind="street", name="随机街道", code=f"RS{next(_uid)}", parent=None)
        places = [street, *_build_tree(street, spec)]
        admin = make_user(f"admin{next(_uid)}", [("admin", None)])
        expected: list[tuple[str, str, dt.date]] = []  # (metric key, path, day) of every generated thing
        for kind, pick, offset, hour in evs:
            place = places[pick % len(places)]
            d = day + dt.timedelta(days=offset)
            if kind in ("gate", "refused", "fever"):
                gate(place, at(d, hour), decision="refused" if kind == "refused" else "allowed",
                     temperature="38.1" if kind == "fever" else "36.5")
                expected.append(("gates.entries", place.path, d))
                if kind == "refused":
                    expected.append(("gates.refused", place.path, d))
                if kind == "fever":
                    expected.append(("gates.fevers", place.path, d))
            elif kind == "obs":
                observe(place, d)
                expected.append(("observation.new", place.path, d))
            else:
                observe(place, d - dt.timedelta(days=1), [(d, 0), (d, 1)])
                expected.append(("observation.new", place.path, d - dt.timedelta(days=1)))
                expected += [("observation.reports", place.path, d)] * 2

        def counts(place):
            keys = ("gates.entries", "gates.refused", "gates.fevers", "observation.new", "observation.reports")
            return {k: sum(1 for key, p, d in expected if key == k and d == day and p.startswith(place.path)) for k in keys}

        client = Client()
        client.force_login(admin)
        seen = set()
        top = _check_level(client, day, street, counts, seen)
        assert {p.pk for p in places if p.children.exists()} <= seen
        # the one read answers the same as the page
        figs = place_figures(day, places)
        for p in places:
            assert {k: figs[p.pk][k] for k in counts(p)} == counts(p)
        assert top["totals"]["gates.entries"] == sum(1 for k, _p, d in expected if k == "gates.entries" and d == day)
        transaction.set_rollback(True)


# --- An independent SQL count ---------------------------------------------------------------

def _sql_count(sql: str, params) -> int:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return int(cur.fetchone()[0] or 0)


@pytest.mark.django_db
def test_totals_equal_an_independent_sql_count(cast, login):
    day = timezone.localdate()
    for i, place in enumerate([cast.grid_a1, cast.compound_a1, cast.grid_a2, cast.grid_b1, cast.comm_b] * 3):
        gate(place, at(day, i % 24), decision="refused" if i % 4 == 0 else "allowed")
        gate(place, at(day - dt.timedelta(days=1), 12))  # another day: not counted
    observe(cast.grid_a1, day - dt.timedelta(days=2), [(day, 0), (day, 1), (day - dt.timedelta(days=1), 0)])
    observe(cast.compound_a1, day, [(day, 0)])
    observe(cast.grid_b1, day - dt.timedelta(days=1), [(day, 1)])

    # the local day's bounds as the database stores times (UTC; text on SQLite)
    start, end = (connection.ops.adapt_datetimefield_value(t) for t in (at(day, 0), at(day + dt.timedelta(days=1), 0)))
    rep = api_report(login(cast.coordinator), day, cast.street)
    by_place = {r["place_id"]: r["figures"] for r in rep["rows"]}
    for place, figs in [(cast.street, rep["totals"]), (cast.comm_a, by_place[cast.comm_a.pk]),
                        (cast.comm_b, by_place[cast.comm_b.pk])]:
        like = place.path + "%"
        assert figs["gates.entries"] == _sql_count(
            "SELECT COUNT(*) FROM gates_gateentry WHERE occurred_at >= %s AND occurred_at < %s AND place_path LIKE %s",
            [start, end, like]) > 0
        assert figs["gates.refused"] == _sql_count(
            "SELECT COUNT(*) FROM gates_gateentry WHERE decision = 'refused' AND occurred_at >= %s AND occurred_at < %s "
            "AND place_path LIKE %s", [start, end, like])
        assert figs["observation.reports"] == _sql_count(
            "SELECT COUNT(*) FROM observation_report r JOIN observation_observation o ON o.id = r.observation_id "
            "WHERE r.day = %s AND o.place_path LIKE %s", [day, like]) > 0
        assert figs["observation.new"] == _sql_count(
            "SELECT COUNT(*) FROM observation_observation WHERE start_date = %s AND place_path LIKE %s", [day, like])
        assert figs["observation.active"] == _sql_count(
            "SELECT COUNT(*) FROM observation_observation WHERE start_date <= %s AND ended_at IS NULL AND place_path LIKE %s",
            [day, like])
    # a community's row on the street's report equals that community's own report
    assert api_report(login(cast.committee_a), day, cast.comm_a)["totals"] == by_place[cast.comm_a.pk]


# --- Scope ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_report_is_scoped_to_the_viewer(cast, login):
    day = timezone.localdate()
    gate(cast.compound_a1, at(day, 10))
    gate(cast.grid_b1, at(day, 10))
    c = login(cast.worker_a1)
    resp = c.get("/reports/")
    assert resp.status_code == 200
    assert resp.context["rep"]["place"] == cast.grid_a1  # the viewer's top place
    assert resp.context["rep"]["totals"]["gates.entries"] == 1
    assert c.get("/reports/", {"place": cast.comm_b.pk}).status_code == 404
    assert c.get("/reports/", {"place": cast.street.pk}).status_code == 404
    assert c.get("/api/reports/daily", {"place_id": cast.grid_b1.pk}).status_code == 404
    for user in (cast.liaison_x, cast.guard_a, cast.volunteer, cast.medic_a):
        assert login(user).get("/reports/").status_code == 403
        assert login(user).get("/api/reports/daily").status_code == 403
    resp = login(cast.committee_a).get("/reports/", {"day": "2020-13-01"})
    assert resp.status_code == 400 and "2020-03-18" in resp.content.decode()
    assert login(cast.coordinator).post("/reports/").status_code == 405


# --- Entered figures ---------------------------------------------------------------------------

@pytest.fixture
def figures_defined(cast):
    FigureDefinition.objects.all().delete()  # instead of the ready-made ones (migration 0002)
    actions.create_definition(acting_user=cast.admin, key="masks", label="口罩", unit="个", org_kinds=["employer", "station"])
    actions.create_definition(acting_user=cast.admin, key="disinfectant", label="消毒液", unit="斤", org_kinds=["employer"])
    return cast


@pytest.mark.django_db
def test_coordinator_defines_figures_with_clear_errors(cast, login):
    assert set(FigureDefinition.objects.values_list("key", flat=True)) >= {"masks", "disinfectant", "thermometers", "suits"}
    FigureDefinition.objects.all().delete()
    c = login(cast.coordinator)
    resp = c.post("/reports/figures/", {"key": "masks", "label": "口罩", "unit": "个", "org_kinds": ["employer", "station"]})
    assert resp.status_code == 302
    resp = c.post("/reports/figures/", {"key": "Bad Key", "label": "", "org_kinds": ["nonsense"]})
    assert resp.status_code == 400
    assert set(resp.context["errors"]) == {"key", "label", "org_kinds"}
    resp = c.post("/api/reports/figures", {"key": "masks", "label": "x", "org_kinds": ["employer"]}, content_type="application/json")
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "key"
    resp = c.post("/api/reports/figures", {"key": "suits", "label": "防护服", "unit": "套", "org_kinds": ["station"]},
                  content_type="application/json")
    assert resp.status_code == 201 and resp.json()["org_kinds"] == "station"
    assert login(cast.committee_a).post("/reports/figures/", {"key": "x1", "label": "x", "org_kinds": "employer"}).status_code == 403
    assert login(cast.liaison_x).get("/api/reports/figures").status_code == 403


@pytest.mark.django_db
def test_liaison_enters_and_confirms_then_locked(figures_defined, login):
    cast = figures_defined
    day = timezone.localdate()
    c = login(cast.liaison_x)
    page = c.get("/reports/entry/")
    assert page.status_code == 200 and "单位X" in page.content.decode() and "单位Y" not in page.content.decode()
    # works (a partial draft)
    resp = c.post("/reports/entry/", {"organization": cast.org_x.pk, "day": day.isoformat(), "f_masks": "3000"})
    assert resp.status_code == 302
    sub = Submission.objects.get(organization=cast.org_x, day=day)
    assert sub.state == "draft" and sub.values == {"masks": 3000}
    # confirm with a figure missing: clear error, nothing changed
    resp = c.post(f"/api/reports/submissions/{sub.pk}/confirm")
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "values.disinfectant"
    # bad values: clear errors naming the field, nothing stored
    for bad in ("-1", "abc", "1.5", "²", "99999999999"):
        resp = c.post("/reports/entry/", {"organization": cast.org_x.pk, "day": day.isoformat(), "f_masks": "5",
                                          "f_disinfectant": bad})
        assert resp.status_code == 400, bad
        assert "消毒液" in resp.content.decode() and 'id="f_disinfectant-errors"' in resp.content.decode()
    resp = c.post("/api/reports/submissions", {"organization_id": cast.org_x.pk, "values": {"masks": -3, "suits": 1}},
                  content_type="application/json")
    assert resp.status_code == 422
    assert {e["field"] for e in resp.json()["detail"]} == {"values.masks", "values.suits"}
    sub.refresh_from_db()
    assert sub.values == {"masks": 3000}
    # save and confirm
    resp = c.post("/reports/entry/", {"organization": cast.org_x.pk, "day": day.isoformat(), "f_masks": "2800",
                                      "f_disinfectant": "1000", "confirm": "1"})
    assert resp.status_code == 302
    sub.refresh_from_db()
    assert sub.state == "confirmed" and sub.values == {"masks": 2800, "disinfectant": 1000} and sub.confirmed_by == cast.liaison_x
    # locked: another entry or confirm is a 409
    resp = c.post("/api/reports/submissions", {"organization_id": cast.org_x.pk, "values": {"masks": 1}},
                  content_type="application/json")
    assert resp.status_code == 409
    assert c.post(f"/reports/submissions/{sub.pk}/confirm/").status_code == 409
    sub.refresh_from_db()
    assert sub.values["masks"] == 2800
    # reopen: the coordinator's (the liaison may not); then the liaison corrects and confirms again
    assert c.post(f"/api/reports/submissions/{sub.pk}/reopen").status_code == 403
    coord = Client()
    coord.force_login(cast.coordinator)
    resp = coord.post(f"/api/reports/submissions/{sub.pk}/reopen")
    assert resp.status_code == 200 and resp.json()["state"] == "reopened"
    assert coord.post(f"/api/reports/submissions/{sub.pk}/reopen").status_code == 409
    resp = c.post("/api/reports/submissions", {"organization_id": cast.org_x.pk, "values": {"masks": "2700"}},
                  content_type="application/json")
    assert resp.status_code == 200 and resp.json()["values"]["masks"] == 2700
    assert c.post(f"/reports/submissions/{sub.pk}/confirm/").status_code == 302
    assert Submission.objects.get(pk=sub.pk).state == "confirmed"
    actions_logged = set(AuditEvent.objects.filter(object_type="Submission").values_list("action", flat=True))
    assert {"reports.enter", "reports.confirm", "reports.reopen"} <= actions_logged


@pytest.mark.django_db
def test_entered_figures_refused_outside_role_unit_or_method(figures_defined, login):
    cast = figures_defined
    day = timezone.localdate()
    c = login(cast.liaison_x)
    # another unit: 404, nothing stored
    assert c.post("/reports/entry/", {"organization": cast.org_y.pk, "f_masks": "1"}).status_code == 404
    assert c.post("/api/reports/submissions", {"organization_id": cast.org_y.pk, "values": {"masks": 1}},
                  content_type="application/json").status_code == 404
    assert not Submission.objects.filter(organization=cast.org_y).exists()
    other = actions.enter_values(acting_user=None, organization=cast.org_y, day=day, values={"masks": 1})
    assert c.post(f"/reports/submissions/{other.pk}/confirm/").status_code == 404
    assert c.post(f"/api/reports/submissions/{other.pk}/confirm").status_code == 404
    # wrong role: 403
    for user in (cast.committee_a, cast.coordinator, cast.worker_a1, cast.guard_a):
        assert login(user).post("/reports/entry/", {"organization": cast.org_x.pk, "f_masks": "1"}).status_code == 403
    assert not Submission.objects.filter(organization=cast.org_x).exists()
    # wrong method: 405
    c = login(cast.liaison_x)
    mine = actions.enter_values(acting_user=None, organization=cast.org_x, day=day, values={"masks": 1})
    assert c.get(f"/reports/submissions/{mine.pk}/confirm/").status_code == 405
    assert c.delete("/reports/entry/").status_code == 405
    assert c.put("/api/reports/submissions").status_code == 405
    # a future day, an empty choice: clear errors
    resp = c.post("/reports/entry/", {"organization": cast.org_x.pk, "day": (day + dt.timedelta(days=2)).isoformat(),
                                      "f_masks": "1"})
    assert resp.status_code == 400
    assert c.post("/reports/entry/", {"f_masks": "1"}).status_code == 400
    # the committee of the other community cannot reopen a unit of community A
    mine = actions.transition(acting_user=None, submission=actions.enter_values(
        acting_user=None, organization=cast.org_x, day=day, values={"disinfectant": 2}), action="confirm")
    coord_b = make_user("coord_b", [("coordinator", cast.comm_b)])
    assert login(coord_b).post(f"/api/reports/submissions/{mine.pk}/reopen").status_code == 404


# --- Who is late --------------------------------------------------------------------------------

@pytest.mark.django_db
def test_late_list_and_inbox_notification(figures_defined, login):
    cast = figures_defined
    day = yesterday()  # its deadline has passed
    liaison_y = make_user("liaison_y", [("unit_liaison", cast.org_y)])
    actions.transition(acting_user=None, action="confirm", submission=actions.enter_values(
        acting_user=None, organization=cast.org_x, day=day, values={"masks": 1, "disinfectant": 2}))
    Submission.objects.filter(organization=cast.org_x, day=day).update(confirmed_at=at(day, 10))  # before the deadline
    c = login(cast.coordinator)
    resp = c.get("/reports/late/", {"day": day.isoformat()})
    assert resp.status_code == 200
    late_ids = [r["org"].pk for r in resp.context["rows"]]
    assert late_ids == [cast.org_y.pk]
    api = c.get("/api/reports/late", {"day": day.isoformat()}).json()
    assert api == [{"organization_id": cast.org_y.pk, "name": "单位Y", "state": "missing"}]
    # the committee of community A sees only its own units (none late)
    assert login(cast.committee_a).get("/api/reports/late", {"day": day.isoformat()}).json() == []
    assert login(cast.liaison_x).get("/reports/late/").status_code == 403
    # the periodic task tells the late unit's liaison, once
    assert actions.notify_late(day=day) == 1
    assert actions.notify_late(day=day) == 0  # once per unit and day
    got = Recipient.objects.filter(user=liaison_y, message__kind="reports.late")
    assert got.count() == 1
    assert not Recipient.objects.filter(user=cast.liaison_x, message__kind="reports.late").exists()
    inbox = login(liaison_y).get("/inbox/").content.decode()
    assert "单位Y" in inbox
    # before today's deadline nobody is late yet
    today = timezone.localdate()
    assert actions.late(today, now=at(today, 0, 1)) == []
    assert [r["org"] for r in actions.late(today, now=at(today, 23, 59))] == [cast.org_x, cast.org_y]


# --- Closing and corrections --------------------------------------------------------------------

@pytest.mark.django_db
def test_closing_keeps_the_day_and_later_changes_show_as_corrections(figures_defined, login):
    cast = figures_defined
    day = yesterday()
    gate(cast.compound_a1, at(day, 9))
    gate(cast.grid_b1, at(day, 9))
    sub = actions.transition(acting_user=None, action="confirm", submission=actions.enter_values(
        acting_user=None, organization=cast.org_x, day=day, values={"masks": 10, "disinfectant": 5}))
    c = login(cast.coordinator)
    assert c.post("/reports/close/", {"day": timezone.localdate().isoformat()}).status_code == 409  # not over yet
    assert c.post("/reports/close/", {"day": "nonsense"}).status_code == 400
    resp = c.post("/reports/close/", {"day": day.isoformat()})
    assert resp.status_code == 302
    closed = ClosedDay.objects.get(day=day)
    assert closed.closed_by == cast.coordinator
    assert AuditEvent.objects.filter(action="reports.close", user=cast.coordinator).exists()
    assert c.post("/api/reports/close", {"day": day.isoformat()}, content_type="application/json").status_code == 409
    # data that arrives later (a synced gate entry of that day) does not change the kept report
    gate(cast.compound_a1, at(day, 15))
    rep = api_report(c, day, cast.street)
    assert rep["closed"] is True
    assert rep["totals"]["gates.entries"] == 2 and rep["totals_now"]["gates.entries"] == 3
    assert place_figures(day, [cast.street])[cast.street.pk]["gates.entries"] == 2
    gate(cast.grid_b1, at(timezone.localdate(), 1))
    series = place_series([day, timezone.localdate()], [cast.street, cast.comm_b])
    assert [series[d][cast.street.pk]["gates.entries"] for d in series] == [2, 1]  # kept; live
    assert series[day][cast.comm_b.pk]["gates.entries"] == 1
    page = c.get("/reports/", {"day": day.isoformat()}).content.decode()
    assert 'id="closed"' in page and '<span class="now">现为 3</span>' in page
    # entered figures: locked; a correction with a reason shows beside the kept figure
    liaison = login(cast.liaison_x)
    assert liaison.post("/api/reports/submissions", {"organization_id": cast.org_x.pk, "day": day.isoformat(),
                                                     "values": {"masks": 1}}, content_type="application/json").status_code == 409
    coord = Client()
    coord.force_login(cast.coordinator)
    assert coord.post(f"/api/reports/submissions/{sub.pk}/reopen").status_code == 409
    resp = coord.post(f"/api/reports/submissions/{sub.pk}/correct", {"figure": "masks", "value": 12, "reason": ""},
                      content_type="application/json")
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "reason"
    resp = coord.post(f"/api/reports/submissions/{sub.pk}/correct", {"figure": "nope", "value": "x", "reason": "r"},
                      content_type="application/json")
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "figure"
    resp = coord.post(f"/api/reports/submissions/{sub.pk}/correct", {"figure": "masks", "value": "-2", "reason": "r"},
                      content_type="application/json")
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "value"
    resp = coord.post(f"/reports/submissions/{sub.pk}/correct/", {"figure": "masks", "value": "12", "reason": "漏报一箱"})
    assert resp.status_code == 302
    corr = Correction.objects.get()
    assert (corr.old, corr.new, corr.corrected_by, corr.reason) == (10, 12, cast.coordinator, "漏报一箱")
    rep = api_report(coord, day, cast.street)
    row = next(r for r in rep["organizations"] if r["organization_id"] == cast.org_x.pk)
    assert row["entered"]["masks"] == 10  # kept
    page = coord.get("/reports/", {"day": day.isoformat()}).content.decode()
    assert "10 → 12" in page and "漏报一箱" in page
    # The exports keep the closed figure and list the correction beside it.
    from openpyxl import load_workbook

    csv_text = coord.get("/reports/export.csv", {"day": day.isoformat()}).getvalue().decode("utf-8-sig")
    assert "关闭后的更正" in csv_text and f"{cast.org_x.name},口罩,10,12,coordinator," in csv_text and "漏报一箱" in csv_text
    resp = coord.get("/reports/export.xlsx", {"day": day.isoformat()})
    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content)))
    fixes = [[c for c in row] for row in wb["更正"].iter_rows(values_only=True)]
    assert fixes[1][:4] == [cast.org_x.name, "口罩", 10, 12] and fixes[1][6] == "漏报一箱"
    # ...and the derived figure whose data changed after closing (A's gate entry synced late): kept 1, now 2.
    assert [r[2:4] for r in fixes if r[0] == cast.comm_a.name and r[6] == "关闭后数据有变化"] == [[1, 2]]
    assert ClosedDay.objects.get(day=day).snapshot == closed.snapshot
    assert AuditEvent.objects.filter(action="reports.correct").exists()
    assert login(cast.liaison_x).post(f"/reports/submissions/{sub.pk}/correct/", {}).status_code == 403


@pytest.mark.django_db
def test_days_close_by_themselves_and_by_command(cast):
    today = timezone.localdate()
    before = today - dt.timedelta(days=1)
    # at midnight yesterday is not due yet (it closes at 09:00 today); the days before are
    assert actions.close_due_days(now=at(today, 0, 0), lookback=3) == [today - dt.timedelta(days=3),
                                                                        today - dt.timedelta(days=2)]
    assert not ClosedDay.objects.filter(day=before).exists()
    assert actions.close_due_days(now=at(today, 23, 59), lookback=3) == [before]
    assert actions.close_due_days(now=at(today, 23, 59), lookback=3) == []
    out = io.StringIO()
    call_command("close_day", "2020-03-18", stdout=out)
    assert "closed 2020-03-18" in out.getvalue()
    with pytest.raises(CommandError, match="2020-03-18"):
        call_command("close_day", "2020-03-18")
    with pytest.raises(CommandError, match="day"):
        call_command("close_day", "18/03/2020")


@pytest.mark.django_db
def test_the_close_hour_is_the_configured_one(cast, settings):
    """FANGKONG_REPORT_CLOSE=06:00: yesterday is still open at 05:59 today and closed at 06:00."""
    settings.REPORT_CLOSE = dt.time(6, 0)
    today = timezone.localdate()
    before = today - dt.timedelta(days=1)
    assert actions.close_due_days(now=at(today, 5, 59), lookback=1) == []
    assert not ClosedDay.objects.filter(day=before).exists()
    assert actions.close_due_days(now=at(today, 6, 0), lookback=1) == [before]
    assert ClosedDay.objects.filter(day=before).exists()


# --- Exports ---------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_xlsx_laid_out_like_the_paper_form_and_csv(figures_defined, login):
    from openpyxl import load_workbook

    cast = figures_defined
    day = timezone.localdate()
    for place, n in ((cast.compound_a1, 3), (cast.grid_a2, 2), (cast.grid_b1, 4)):
        for i in range(n):
            gate(place, at(day, 8 + i), decision="refused" if i == 0 else "allowed")
    observe(cast.grid_b1, day, [(day, 0)])
    actions.enter_values(acting_user=None, organization=cast.org_x, day=day, values={"masks": 100, "disinfectant": 7})
    c = login(cast.coordinator)
    rep = api_report(c, day, cast.street)
    resp = c.get("/reports/export.xlsx", {"day": day.isoformat()})
    assert resp.status_code == 200 and "spreadsheetml" in resp["Content-Type"]
    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content)))
    ws = wb.worksheets[0]
    assert "测试街道" in ws["A1"].value and str(day.year) in ws["A1"].value
    merged = {str(r) for r in ws.merged_cells.ranges}
    ncol = len(rep["columns"]) + 1
    from openpyxl.utils import get_column_letter

    assert f"A1:{get_column_letter(ncol)}1" in merged and "A2:A3" in merged
    sections = [c["section"] for c in rep["columns"]]
    col = 2
    for label in dict.fromkeys(sections):
        n = sections.count(label)
        assert ws.cell(row=2, column=col).value == label
        if n > 1:
            assert f"{get_column_letter(col)}2:{get_column_letter(col + n - 1)}2" in merged
        col += n
    assert [ws.cell(row=3, column=2 + i).value for i in range(len(rep["columns"]))] == [c["label"] for c in rep["columns"]]
    rows = list(ws.iter_rows(min_row=4, max_row=4 + len(rep["rows"]), values_only=True))
    body, total = rows[:-1], rows[-1]
    assert [r[0] for r in body] == [r["name"] for r in rep["rows"]] == ["甲社区", "乙社区"]
    for i, col in enumerate(rep["columns"]):
        assert total[1 + i] == sum(r[1 + i] for r in body) == rep["totals"][col["key"]]
    assert rep["totals"]["gates.entries"] == 9
    formulas = wb.worksheets[1]
    assert formulas.cell(row=2, column=2).value.startswith("=SUM(")
    values = [v for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    assert "单位X" in values and 100 in values
    assert AuditEvent.objects.filter(action="reports.export", user=cast.coordinator).count() == 1
    # CSV: BOM, the same rows
    resp = c.get("/reports/export.csv", {"day": day.isoformat(), "place": cast.street.pk})
    text = b"".join(resp.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text[1:])))
    total_line = next(line for line in lines if line and line[0] in ("合计", "Total"))
    assert [int(v) for v in total_line[1:]] == [rep["totals"][c["key"]] for c in rep["columns"]]
    assert login(cast.liaison_x).get("/reports/export.csv").status_code == 403


# --- Passes metrics, settings ------------------------------------------------------------------------

@pytest.mark.django_db
def test_passes_metrics_are_registered_and_picked_up(cast, login):
    keys = {m.key for m in registry.metrics()}
    assert {"passes.issued", "passes.valid"} <= keys
    rep = api_report(login(cast.coordinator), timezone.localdate(), cast.street)
    assert {"passes.issued", "passes.valid", "gates.entries", "census.household_visits", "inflow.arrived"} <= {
        c["key"] for c in rep["columns"]}


@pytest.mark.parametrize("name,value", [("FANGKONG_REPORT_DEADLINE", "25:00"), ("FANGKONG_REPORT_CLOSE", "9am"),
                                        ("FANGKONG_REPORT_DEADLINE", "17:00:00")])
def test_report_times_fail_loudly(tmp_path, name, value):
    from tests.test_settings import load

    code, out = load(tmp_path, **{name: value})
    assert code != 0 and name in out


@pytest.mark.django_db(transaction=True)
def test_concurrent_confirm_and_first_entries_are_serialized():
    """Two confirms of one submission at once: one wins, the other is a 409; two first
    entries of one unit and day at once: one submission holding both figures."""
    import threading

    from tests.cast import build_cast

    cast = build_cast()
    FigureDefinition.objects.all().delete()
    actions.create_definition(acting_user=None, key="masks", label="口罩", unit="个", org_kinds=["employer"])
    actions.create_definition(acting_user=None, key="gloves", label="手套", unit="副", org_kinds=["employer"])
    day = timezone.localdate()

    def race(fn):
        barrier = threading.Barrier(2)
        results = []

        def go(i):
            c = Client()
            c.force_login(cast.liaison_x)
            barrier.wait()
            results.append(fn(c, i))
            connection.close()

        threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    codes = race(lambda c, i: c.post("/api/reports/submissions", {"organization_id": cast.org_x.pk,
                                                                  "values": {["masks", "gloves"][i]: 5 + i}},
                                     content_type="application/json").status_code)
    assert codes == [200, 200]
    sub = Submission.objects.get(organization=cast.org_x, day=day)
    assert sub.values == {"masks": 5, "gloves": 6}
    codes = race(lambda c, i: c.post(f"/api/reports/submissions/{sub.pk}/confirm").status_code)
    assert sorted(codes) == [200, 409]
    assert AuditEvent.objects.filter(action="reports.confirm").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31"])
def test_days_out_of_range_are_clear_errors_not_500(cast, day):
    c = Client()
    c.force_login(cast.coordinator)
    for url in (f"/reports/?day={day}", f"/reports/export.xlsx?day={day}", f"/reports/export.csv?day={day}",
                f"/api/reports/daily?day={day}", f"/reports/late/?day={day}"):
        resp = c.get(url)
        assert resp.status_code in (400, 422), (url, resp.status_code)
        assert "2000-01-01" in resp.content.decode(), url


@pytest.mark.django_db(transaction=True)
def test_an_entry_committing_while_the_day_closes_is_kept_in_the_report(monkeypatch):
    """A unit's entry still in its transaction when the day closes: closing waits for it,
    and the kept report holds the entry (before, the snapshot was read first and lost it)."""
    import threading
    import time

    from tests.cast import build_cast

    cast = build_cast()
    FigureDefinition.objects.all().delete()
    actions.create_definition(acting_user=None, key="masks", label="口罩", unit="个", org_kinds=["employer"])
    day = timezone.localdate() - dt.timedelta(days=1)
    in_entry, release = threading.Event(), threading.Event()
    real_record = actions.record

    def slow_record(user, action, **kw):
        real_record(user, action, **kw)
        if action == "reports.enter":  # the entry is written, its transaction still open
            in_entry.set()
            release.wait(10)

    monkeypatch.setattr(actions, "record", slow_record)
    closed = []

    def enter():
        actions.enter_values(acting_user=None, organization=cast.org_x, day=day, values={"masks": 7})
        connection.close()

    def close():
        closed.append(actions.close_day(acting_user=None, day=day))
        connection.close()

    entry = threading.Thread(target=enter)
    entry.start()
    assert in_entry.wait(10)
    closing = threading.Thread(target=close)
    closing.start()
    time.sleep(0.5)  # closing reads the metrics, then waits for the day (the entry holds it)
    assert not closed
    release.set()
    entry.join()
    closing.join()
    kept = ClosedDay.objects.get(day=day).snapshot["entered"]
    assert kept[str(cast.org_x.pk)]["values"] == {"masks": 7}


@pytest.mark.django_db
def test_closing_and_defining_figures_need_a_grant_over_every_street(cast):
    """Closing a day and the figures every unit enters apply to every street: a second
    street's coordinator, or the first street's once a second street exists, gets 403;
    an admin (everything) may; the pages show no close button to those who may not."""
    from fangkong.places.actions import create_place
    from tests.cast import make_user

    day = (timezone.localdate() - dt.timedelta(days=2)).isoformat()
    coordinator = Client()
    coordinator.force_login(cast.coordinator)
    assert "Close the day now" in coordinator.get(f"/reports/late/?day={day}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    other = create_place(acting_user=None, kind="street", name="另一街道", code="T", parent=None)
    other_coordinator = Client()
    other_coordinator.force_login(make_user("coordinator_t", [("coordinator", other)]))
    for c in (coordinator, other_coordinator):
        assert c.post("/reports/close/", {"day": day}).status_code == 403
        assert c.get("/reports/figures/").status_code == 403
        assert c.post("/api/reports/close", {"day": day}, content_type="application/json").status_code == 403
        assert c.post("/api/reports/figures", {"key": "n95", "label": "N95", "org_kinds": ["employer"]},
                      content_type="application/json").status_code == 403
        assert "Close the day now" not in c.get(f"/reports/late/?day={day}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert not ClosedDay.objects.exists() and not FigureDefinition.objects.filter(key="n95").exists()
    admin = Client()
    admin.force_login(cast.admin)
    assert admin.post("/reports/close/", {"day": day}).status_code == 302
    assert ClosedDay.objects.filter(day=day).exists()
