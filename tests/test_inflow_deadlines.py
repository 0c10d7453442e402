"""Inflow, completed: deadlines per link and their escalation, turnaround statistics, the
admin's policy table, and the person's own application through a personal link. Through
HTTP with the fixed cast, then the stored state."""
from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from fangkong.accounts.actions import issue_resident_link
from fangkong.audit.models import AuditEvent
from fangkong.lib import registry
from fangkong.inflow import tasks
from fangkong.inflow.models import Application, Event, MeasurePolicy, Origin
from tests.cast import add_person, make_id, make_phone

S = Application.State


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def origins(db):
    return {"medium": Origin.objects.create(name="湖北省武汉市", risk="medium"),
            "none": Origin.objects.create(name="本省", risk="none")}


@pytest.fixture
def alerts():
    """A test alert sink: the alerts raised while the test runs."""
    got: list[registry.Alert] = []
    sink = got.append
    registry.register_alert_sink(sink)
    yield got
    registry._SINKS.remove(sink)


def submit(cast, origin, seq=601, place=None, address="甲一小区2号楼201室"):
    resp = as_user(cast.liaison_x).post("/inflow/apply/", {
        "name": "返岗" + "甲乙丙丁戊己庚辛壬癸"[seq % 10], "id_number": make_id(seq), "phone": make_phone(seq), "origin": origin.pk,
        "place": (place or cast.compound_a1).pk, "address": address, "purpose": "返岗", "transport": "自驾"})
    assert resp.status_code == 302, resp.content.decode()[:1500]
    return Application.objects.get(pk=int(resp["Location"].rstrip("/").rsplit("/", 1)[1]))


def make_late(app, minutes=7):
    """Move the clock: the current link's deadline passed `minutes` ago."""
    Application.objects.filter(pk=app.pk).update(due_at=timezone.now() - dt.timedelta(minutes=minutes))


# --- Deadlines ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_each_link_gets_its_deadline(cast, origins, settings):
    settings.INFLOW_FORWARD_MINUTES, settings.INFLOW_TRAVEL_HOURS, settings.INFLOW_ARRIVAL_GRACE_HOURS = 20, 12, 2
    app = submit(cast, origins["medium"])
    assert (app.due_link, app.due_at - app.submitted_at) == ("forward", dt.timedelta(minutes=20))
    as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/")
    app.refresh_from_db()
    assert (app.due_link, app.due_at) == ("review", app.review_due_at)
    assert app.due_at - app.forwarded_at == dt.timedelta(minutes=60)
    as_user(cast.committee_a).post(f"/inflow/{app.pk}/approve/")
    app.refresh_from_db()
    assert (app.due_link, app.due_at - app.decided_at) == ("travel", dt.timedelta(hours=12))
    day = timezone.localdate() + dt.timedelta(days=2)
    as_user(cast.liaison_x).post(f"/inflow/{app.pk}/travel/", {"planned_arrival": day.isoformat()})
    app.refresh_from_db()
    end_of_day = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))
    assert (app.due_link, app.due_at) == ("arrive", end_of_day + dt.timedelta(hours=2))
    as_user(cast.committee_a).post(f"/inflow/{app.pk}/arrive/", {"temperature": "36.5", "healthy": "1"})
    app.refresh_from_db()
    assert (app.due_link, app.due_at, app.state) == ("", None, S.ARRIVED)


@pytest.mark.django_db
def test_board_lists_overdue_of_every_link_first(cast, origins):
    waiting = submit(cast, origins["medium"], seq=602)  # forward link, not yet due
    late = submit(cast, origins["medium"], seq=603)
    for user, step, data in ((cast.coordinator, "forward", {}), (cast.committee_a, "approve", {})):
        assert as_user(user).post(f"/inflow/{late.pk}/{step}/", data).status_code == 302
    make_late(late)  # the travel confirmation is overdue
    body = as_user(cast.coordinator).get("/inflow/").content.decode()
    assert body.index(late.serial) < body.index(waiting.serial)
    overdue = as_user(cast.liaison_x).get("/inflow/?state=overdue").content.decode()
    assert late.serial in overdue and waiting.serial not in overdue
    # Community B sees none of A's (counting "LR" in the whole page also counted random CSRF tokens).
    other = as_user(cast.committee_b).get("/inflow/?state=overdue").content.decode()
    assert late.serial not in other and waiting.serial not in other and "暂无申请" in other
    api = as_user(cast.coordinator).get("/api/inflow?state=overdue").json()
    assert [(a["id"], a["due_link"]) for a in api] == [(late.pk, "travel")]


# --- Escalation -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_overdue_link_is_escalated_once_to_its_owners(cast, origins, alerts):
    app = submit(cast, origins["medium"], seq=604)
    assert tasks.escalate_overdue.call_local() == 0 and alerts == []  # not due yet
    make_late(app, minutes=7)
    assert tasks.escalate_overdue.call_local() == 1
    assert tasks.escalate_overdue.call_local() == 0  # run twice: one alert
    assert len(alerts) == 1
    a = alerts[0]
    assert (a.kind, a.place_path, a.perms, a.obj_type, a.obj_id) == (
        "inflow.overdue", cast.compound_a1.path, ("inflow.forward",), "inflow.application", app.pk)
    assert app.serial in a.text and "7" in a.text and "单位X" in a.text
    assert "返岗戊" not in a.text and make_id(604) not in a.text and make_phone(604) not in a.text
    assert Event.objects.filter(application=app, action="escalate").count() == 1
    assert AuditEvent.objects.filter(action="inflow.escalate", object_id=str(app.pk)).count() == 1
    detail = as_user(cast.coordinator).get(f"/inflow/{app.pk}/").content.decode()
    assert "overdue" in detail.lower() or "超时" in detail

    # The next link gets its own deadline and its own (single) escalation.
    as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/")
    app.refresh_from_db()
    assert app.escalated_at is None
    make_late(app)
    tasks.escalate_overdue.call_local()
    tasks.escalate_overdue.call_local()
    assert [x.perms for x in alerts] == [("inflow.forward",), ("inflow.review",)]

    as_user(cast.committee_a).post(f"/inflow/{app.pk}/approve/")
    make_late(app)
    tasks.escalate_overdue.call_local()
    assert alerts[-1].perms == ("inflow.travel", "inflow.review") and "单位X" in alerts[-1].text

    as_user(cast.liaison_x).post(f"/inflow/{app.pk}/travel/", {"planned_arrival": timezone.localdate().isoformat()})
    make_late(app)
    tasks.escalate_overdue.call_local()
    assert alerts[-1].perms == ("inflow.arrive",) and len(alerts) == 4

    # Through the notification sink, every link's escalation reached its owners' inboxes,
    # the unit's liaison (an organization grant) included.
    from fangkong.notify.models import Recipient

    def got(user):
        return Recipient.objects.filter(user=user, message__kind="inflow.overdue").count()

    assert (got(cast.coordinator), got(cast.committee_a), got(cast.liaison_x), got(cast.worker_a1)) == (1, 3, 1, 1)
    assert got(cast.committee_b) == 0 and got(cast.worker_b1) == 0


@pytest.mark.django_db
def test_escalation_without_a_sink_and_with_a_failing_one(cast, origins):
    app = submit(cast, origins["medium"], seq=605)
    make_late(app)

    def broken(alert):
        raise RuntimeError("sink down")

    registry.register_alert_sink(broken)
    try:
        assert tasks.escalate_overdue.call_local() == 0  # rolled back: retried next minute
    finally:
        registry._SINKS.remove(broken)
    app.refresh_from_db()
    assert app.escalated_at is None and not Event.objects.filter(application=app, action="escalate").exists()
    tasks.escalate_overdue()  # enqueued through Huey (run at once in tests)
    tasks.escalate_overdue()
    app.refresh_from_db()
    assert app.escalated_at is not None and Event.objects.filter(application=app, action="escalate").count() == 1


# --- Turnaround statistics ----------------------------------------------------------------------

def _made(cast, origin, *, hh, employer, minutes: dict, serial: str, day_offset=0):
    """An application with hand-made link times: minutes = {"forward": m, "review": m, ...}."""
    t0 = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0) - dt.timedelta(days=1 + day_offset)
    t = {"submitted_at": t0}
    cur = t0
    for link, field in (("forward", "forwarded_at"), ("review", "decided_at"), ("travel", "travelling_at"),
                        ("arrive", "arrived_at")):
        if link not in minutes:
            break
        cur = cur + dt.timedelta(minutes=minutes[link])
        t[field] = cur
    # A person of its own (one open application per person), living in `hh`.
    person = add_person(cast, f"timed_{serial}", name="时效对象", seq=600 + len(cast.persons), household=hh)
    return Application.objects.create(serial=serial, person=person, employer=employer, household=hh, place=hh.place,
                                      place_path=hh.place_path, origin=origin, risk=origin.risk, state=S.APPROVED, **t)


@pytest.fixture
def timed(cast, origins):
    o = origins["medium"]
    # Community A (unit X): answers of 10, 20, 30 and 100 minutes; one still travelling.
    _made(cast, o, hh=cast.hh_a1, employer=cast.org_x, minutes={"forward": 4, "review": 6, "travel": 60, "arrive": 120}, serial="T1")
    _made(cast, o, hh=cast.hh_a1, employer=cast.org_x, minutes={"forward": 5, "review": 15, "travel": 30}, serial="T2")
    _made(cast, o, hh=cast.hh_a2, employer=None, minutes={"forward": 10, "review": 20}, serial="T3")
    _made(cast, o, hh=cast.hh_a2, employer=cast.org_x, minutes={"forward": 40, "review": 60}, serial="T4")
    # Community B (unit Y): one answer of 50 minutes.
    _made(cast, o, hh=cast.hh_b1, employer=cast.org_y, minutes={"forward": 20, "review": 30}, serial="T5")
    # Outside the default range (40 days ago): left out.
    _made(cast, o, hh=cast.hh_b1, employer=cast.org_y, minutes={"forward": 1, "review": 1}, serial="T6", day_offset=40)


@pytest.mark.django_db
def test_turnaround_median_and_p90_per_community_and_unit(cast, timed):
    data = as_user(cast.coordinator).get("/api/inflow-stats").json()
    total = data["total"]
    assert total["applications"] == 5
    # answer (submitted→decided): 10, 20, 30, 100, 50 -> median 30, p90 = 50 + 0.6 * 50 = 80
    assert total["links"]["answer"] == {"count": 5, "median": 30.0, "p90": 80.0}
    comm = {r["label"]: r for r in data["by_community"]}
    assert set(comm) == {"甲社区", "乙社区"}
    a = comm["甲社区"]["links"]
    # 10, 20, 30, 100 -> median 25, p90 at rank 2.7: 30 + 0.7 * 70 = 79
    assert a["answer"] == {"count": 4, "median": 25.0, "p90": 79.0}
    assert a["forward"] == {"count": 4, "median": 7.5, "p90": 31.0}  # 4, 5, 10, 40
    assert a["travel"] == {"count": 2, "median": 45.0, "p90": 57.0}  # 30, 60
    assert a["arrive"] == {"count": 1, "median": 120.0, "p90": 120.0}
    assert a["total"] == {"count": 1, "median": 190.0, "p90": 190.0}
    assert comm["乙社区"]["links"]["answer"] == {"count": 1, "median": 50.0, "p90": 50.0}
    units = {r["label"]: r for r in data["by_unit"]}
    assert units["单位X"]["links"]["answer"]["count"] == 3 and units["单位X"]["links"]["answer"]["median"] == 20.0
    assert units["单位Y"]["applications"] == 1 and "单位Y" in units
    assert [r["key"] for r in data["by_unit"]][-1] == ""  # the personal application without a unit, last
    # A range that takes in the old one too.
    old = (timezone.localdate() - dt.timedelta(days=45)).isoformat()
    assert as_user(cast.coordinator).get(f"/api/inflow-stats?date_from={old}").json()["total"]["applications"] == 6


@pytest.mark.django_db
def test_turnaround_is_scoped_to_the_viewer(cast, timed):
    b = as_user(cast.committee_b).get("/api/inflow-stats").json()
    assert [r["label"] for r in b["by_community"]] == ["乙社区"] and b["total"]["applications"] == 1
    assert [r["label"] for r in b["by_unit"]] == ["单位Y"]
    page = as_user(cast.committee_b).get("/inflow/stats/")
    body = page.content.decode()
    assert page.status_code == 200 and "乙社区" in body and "甲社区" not in body and "单位X" not in body
    x = as_user(cast.liaison_x).get("/api/inflow-stats").json()
    assert x["total"]["applications"] == 3 and [r["label"] for r in x["by_unit"]] == ["单位X"]
    assert as_user(cast.guard_a).get("/api/inflow-stats").status_code == 403
    assert as_user(cast.guard_a).get("/inflow/stats/").status_code == 403


@pytest.mark.django_db
def test_turnaround_page_and_bad_ranges(cast, timed):
    c = as_user(cast.coordinator)
    body = c.get("/inflow/stats/").content.decode()
    assert "甲社区" in body and "单位X" in body and "25.0 / 79.0" in body
    resp = c.get("/inflow/stats/?date_from=2026-13-01")
    assert resp.status_code == 400 and 'id="date_from-errors"' in resp.content.decode()
    resp = c.get("/inflow/stats/?date_from=2026-03-02&date_to=2026-03-01")
    assert resp.status_code == 400 and 'id="date_to-errors"' in resp.content.decode()
    assert c.get("/api/inflow-stats?date_from=2026-03-02&date_to=2026-03-01").status_code == 422
    assert c.get("/api/inflow-stats?date_from=notadate").status_code == 422


def test_percentile_definition():
    from fangkong.inflow.queries import percentile

    assert percentile([], 0.5) is None
    assert percentile([5], 0.9) == 5
    assert percentile([1, 2, 3, 10], 0.5) == 2.5 and abs(percentile([1, 2, 3, 10], 0.9) - 7.9) < 1e-9


# --- The policy table -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_admin_edits_the_policy_table(cast, origins):
    c = as_user(cast.admin)
    page = c.get("/inflow/policy/")
    assert page.status_code == 200 and "湖北省武汉市" in page.content.decode()
    assert c.post("/inflow/policy/origins/new/", {"name": " 河南省 濮阳市 ", "risk": "low"}).status_code == 302
    new = Origin.objects.get(name="河南省 濮阳市")
    assert new.risk == "low"
    assert c.post(f"/inflow/policy/origins/{new.pk}/risk/", {"risk": "high"}).status_code == 302
    new.refresh_from_db()
    assert new.risk == "high"
    row = MeasurePolicy.objects.get(risk="low")
    assert c.post(f"/inflow/policy/measures/{row.pk}/", {"measure": "home_observation", "days": "10"}).status_code == 302
    row.refresh_from_db()
    assert (row.measure, row.days) == ("home_observation", 10)
    done = set(AuditEvent.objects.filter(action__startswith="inflow.").values_list("action", flat=True))
    assert {"inflow.origin.create", "inflow.origin.risk", "inflow.policy.set"} <= done


@pytest.mark.django_db
def test_policy_table_refuses_bad_input_and_stores_nothing(cast, origins):
    c = as_user(cast.admin)
    n = Origin.objects.count()
    for data, field in (({"name": "", "risk": "low"}, "name"), ({"name": "本省", "risk": "low"}, "name"),
                        ({"name": "某地", "risk": "extreme"}, "risk"), ({"name": "很" * 61, "risk": "low"}, "name")):
        resp = c.post("/inflow/policy/origins/new/", data)
        assert resp.status_code == 400 and f'id="{field}-errors"' in resp.content.decode(), data
    assert Origin.objects.count() == n
    o = origins["medium"]
    resp = c.post(f"/inflow/policy/origins/{o.pk}/risk/", {"risk": "extreme"})
    assert resp.status_code == 400 and f'id="origin-{o.pk}-errors"' in resp.content.decode()
    o.refresh_from_db()
    assert o.risk == "medium"
    row = MeasurePolicy.objects.get(risk="medium")
    for data in ({"measure": "home_observation", "days": "61"}, {"measure": "home_observation", "days": "-1"},
                 {"measure": "home_observation", "days": "0"}, {"measure": "none", "days": "5"},
                 {"measure": "home_observation", "days": "十"}, {"measure": "quarantine", "days": "14"}):
        resp = c.post(f"/inflow/policy/measures/{row.pk}/", data)
        assert resp.status_code == 400 and f'id="policy-{row.pk}-errors"' in resp.content.decode(), data
    row.refresh_from_db()
    assert (row.measure, row.days) == ("home_observation", 14)
    assert c.post("/inflow/policy/measures/999999/", {"measure": "none", "days": "0"}).status_code == 404
    assert c.post("/inflow/policy/origins/999999/risk/", {"risk": "low"}).status_code == 404
    assert c.get("/inflow/policy/origins/new/").status_code == 405


@pytest.mark.django_db
def test_policy_table_is_the_admins(cast, origins):
    o, row = origins["medium"], MeasurePolicy.objects.get(risk="medium")
    for user in (cast.committee_a, cast.coordinator, cast.liaison_x):
        c = as_user(user)
        assert c.get("/inflow/policy/").status_code == 403
        assert c.post("/inflow/policy/origins/new/", {"name": "某地", "risk": "low"}).status_code == 403
        assert c.post(f"/inflow/policy/origins/{o.pk}/risk/", {"risk": "high"}).status_code == 403
        assert c.post(f"/inflow/policy/measures/{row.pk}/", {"measure": "none", "days": "0"}).status_code == 403
        assert c.post("/api/inflow-origins", data={"name": "某地", "risk": "low"}, content_type="application/json").status_code == 403
        assert c.post(f"/api/inflow-policy/{row.pk}", data={"measure": "none", "days": 0},
                      content_type="application/json").status_code == 403
    o.refresh_from_db()
    row.refresh_from_db()
    assert o.risk == "medium" and row.measure == "home_observation" and not Origin.objects.filter(name="某地").exists()


@pytest.mark.django_db
def test_policy_api(cast, origins):
    c = as_user(cast.admin)
    got = c.get("/api/inflow-policy").json()
    assert {m["risk"] for m in got["measures"]} == {"high", "medium", "low", "none"}
    resp = c.post("/api/inflow-origins", data={"name": "某市", "risk": "medium"}, content_type="application/json")
    assert resp.status_code == 201 and resp.json()["risk"] == "medium"
    oid = resp.json()["id"]
    bad = c.post("/api/inflow-origins", data={"name": "某市", "risk": "medium"}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "name"
    assert c.post(f"/api/inflow-origins/{oid}/risk", data={"risk": "none"}, content_type="application/json").json()["risk"] == "none"
    assert c.post(f"/api/inflow-origins/{oid}/risk", data={"risk": "x"}, content_type="application/json").status_code == 422
    row = MeasurePolicy.objects.get(risk="high")
    ok = c.post(f"/api/inflow-policy/{row.pk}", data={"measure": "central_observation", "days": 21}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["days"] == 21
    bad = c.post(f"/api/inflow-policy/{row.pk}", data={"measure": "none", "days": 21}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "days"
    row.refresh_from_db()
    assert (row.measure, row.days) == ("central_observation", 21)


# --- The person's own application (personal link) ------------------------------------------------------

@pytest.mark.django_db
def test_person_applies_for_their_own_return(cast, origins):
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    url = f"/r/{token}/return/"
    c = Client()
    page = c.get(url)
    body = page.content.decode()
    assert page.status_code == 200 and "靶子甲" in body and "甲一小区1号楼101室" in body
    assert cast.ids["person_a1"] not in body and "靶子乙" not in body
    day = timezone.localdate() + dt.timedelta(days=1)
    data = {"origin": origins["medium"].pk, "place": cast.compound_a1.pk, "address": "甲一小区1号楼101室",
            "planned_arrival": day.isoformat(), "purpose": "返岗", "transport": "高铁", "client_key": "r-1"}
    first, again = c.post(url, data), c.post(url, data)
    assert first.status_code == again.status_code == 302
    app = Application.objects.get()
    assert (app.person, app.employer, app.household, app.created_by, app.planned_arrival, app.state) == (
        cast.person_a1, cast.org_x, cast.hh_a1, None, day, S.SUBMITTED)
    assert (app.due_link, app.transport) == ("forward", "高铁")
    assert Event.objects.get(application=app, action="apply").note
    assert AuditEvent.objects.filter(action="inflow.apply", object_id=str(app.pk)).exists()
    # A new form while this one is open: refused with a reason, nothing stored.
    resp = c.post(url, {**data, "client_key": "r-2"})
    assert resp.status_code == 409 and Application.objects.count() == 1
    # Unit X's liaison follows it like its own; the other community does not see it.
    assert app.serial in as_user(cast.liaison_x).get("/inflow/").content.decode()
    assert as_user(cast.committee_b).get(f"/inflow/{app.pk}/").status_code == 404

    # The links run; the person sees the state and the pushed result with its reason.
    assert as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/").status_code == 302
    assert as_user(cast.committee_a).post(f"/inflow/{app.pk}/request-info/", {"reason": "请补充健康码截图"}).status_code == 302
    body = c.get(url).content.decode()
    assert app.serial in body and "请补充健康码截图" in body


@pytest.mark.django_db
def test_person_sees_approval_and_measure(cast, origins):
    token = issue_resident_link(acting_user=None, person=cast.person_b1)
    url = f"/r/{token}/return/"
    c = Client()
    day = timezone.localdate()
    assert c.post(url, {"origin": origins["medium"].pk, "place": cast.grid_b1.pk, "address": "乙一网格3号",
                        "planned_arrival": day.isoformat(), "client_key": "r-b"}).status_code == 302
    app = Application.objects.get(person=cast.person_b1)
    assert app.employer == cast.org_y and app.place_path == cast.grid_b1.path
    as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/")
    as_user(cast.committee_b).post(f"/inflow/{app.pk}/approve/")
    body = c.get(url).content.decode()
    assert "approved" in body.lower() or "通过" in body
    as_user(cast.admin).post(f"/inflow/{app.pk}/travel/", {"planned_arrival": day.isoformat()})
    as_user(cast.committee_b).post(f"/inflow/{app.pk}/arrive/", {"temperature": "36.4", "healthy": "1"})
    body = c.get(url).content.decode()
    assert "居家医学观察" in body or "Home medical observation" in body
    assert "靶子甲" not in body and "靶子乙" not in body


@pytest.mark.django_db
def test_personal_link_bad_input_and_wrong_token(cast, origins):
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    url = f"/r/{token}/return/"
    c = Client()
    past = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    resp = c.post(url, {"origin": "", "place": cast.compound_a1.pk, "address": "", "planned_arrival": past})
    body = resp.content.decode()
    assert resp.status_code == 400
    assert 'id="origin-errors"' in body and 'id="address-errors"' in body and 'id="planned_arrival-errors"' in body
    resp = c.post(url, {"origin": origins["none"].pk, "place": cast.compound_a1.pk, "address": "甲一小区1号楼101室",
                        "planned_arrival": "明天"})
    assert resp.status_code == 400 and 'id="planned_arrival-errors"' in resp.content.decode()
    assert not Application.objects.exists()
    assert Client().get("/r/not-a-valid-token-0123456789abcdef/return/").status_code == 404
    assert c.delete(url).status_code == 405
    # Another person's form key does not reveal that person's application.
    other = issue_resident_link(acting_user=None, person=cast.person_a2)
    assert Client().post(f"/r/{other}/return/", {"origin": origins["none"].pk, "place": cast.grid_a2.pk,
                                                  "address": "甲二网格8号", "planned_arrival": timezone.localdate().isoformat(),
                                                  "client_key": "shared"}).status_code == 302
    resp = c.post(url, {"origin": origins["none"].pk, "place": cast.compound_a1.pk, "address": "甲一小区1号楼101室",
                        "planned_arrival": timezone.localdate().isoformat(), "client_key": "shared"})
    # The key counts per submitter: person A1 gets an application of their own, never A2's.
    assert resp.status_code == 302
    mine = Application.objects.get(person=cast.person_a1)
    assert Application.objects.filter(person=cast.person_a2).count() == 1 and "靶子乙" not in c.get(url).content.decode()
    assert mine.client_key != Application.objects.get(person=cast.person_a2).client_key
