"""People on duty (issue 16): the schedule suggestion on a fixed roster, check-in and
check-out through the phone's queue (idempotent, clear refusals), the daily health
check-in taking a person off their shifts until a medic clears them, the last open slot,
the site board, the sending organization's view, the roster's escalation, the figures."""
from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from fangkong.accounts.actions import add_grant
from fangkong.duty import actions, queries
from fangkong.duty.models import Assignment, Deployment, HealthCheck, Shift
from fangkong.lib.workflow import Conflict, Invalid
from fangkong.places.actions import create_organization
from tests.cast import make_user

A = Assignment.State
T0 = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)  # a Monday


# --- The suggestion on a fixed roster --------------------------------------------------------

def _slot(key, day, h0, h1, needed=1):
    tz = timezone.get_current_timezone()
    base = dt.datetime(2026, 3, 2 + day, tzinfo=tz)
    return queries.Slot(key=key, start=base + dt.timedelta(hours=h0), end=base + dt.timedelta(hours=h1), needed=needed)


def test_balance_fixed_roster_known_best_answer():
    """Five people, four shifts. Known answer: hours are balanced (fewest first, ties to the
    lower key), constraints honoured: 3 cares for family (no night), 4 has health limits
    (4 h at most), 5 is unwell, 2 is near the weekly limit."""
    C = queries.Candidate
    people = [C(key=1, hours=20), C(key=2, hours=44), C(key=3, hours=0, family_care=True),
              C(key=4, hours=2, health_limited=True), C(key=5, hours=0, unwell=True)]
    slots = [_slot(10, 0, 8, 16, needed=2),    # day 8 h: 3 (0 h) and 1 (20 h); 4 may not (8 h), 2 over the limit (52)
             _slot(11, 0, 20, 24),             # night: 3 may not (family), 3 busy anyway; 4 may not (4 h ok!) -> 4 (2 h)
             _slot(12, 1, 8, 12),              # 4 h morning: 3 (8 h), 4 (6 h), 1 (28 h): 4 has 6 h -> 4
             _slot(13, 1, 12, 20)]             # 8 h: 3 (8 h) vs 1 (28 h) -> 3
    assert queries.balance(slots, people) == {10: [3, 1], 11: [4], 12: [4], 13: [3]}
    assert [p.hours for p in people] == [28, 44, 16, 10, 0]


# --- Helpers ----------------------------------------------------------------------------------

@pytest.fixture
def duty(cast):
    """A site in compound A1Y with a responsible person, two volunteers sent by employer X
    and one by employer Y."""
    site = create_organization(acting_user=None, kind="site", name="北门值守点", code="DUTY1", place=cast.compound_a1)
    other = create_organization(acting_user=None, kind="site", name="乙值守点", code="DUTY2", place=cast.grid_b1)
    lead = make_user("lead", [("site_lead", site)])
    vols = {}
    for name, sender in (("vol1", cast.org_x), ("vol2", cast.org_x), ("vol3", cast.org_y)):
        u = make_user(name, [("volunteer", site)])
        actions.deploy(acting_user=lead, user=u, site=site, sender=sender, starts_on=timezone.localdate() - dt.timedelta(days=7))
        vols[name] = u
    return {"site": site, "other": other, "lead": lead, **vols}


def _shift(site, *, start_in=dt.timedelta(minutes=30), hours=4, slots=2, open=False):
    start = timezone.now() + start_in
    return actions.create_shift(acting_user=None, site=site, post="gate", starts_at=start,
                                ends_at=start + dt.timedelta(hours=hours), slots=slots, open=open)


def _batch(client, entries, sent_at=None):
    body = {"entries": entries}
    if sent_at:
        body["sent_at"] = sent_at
    return client.post("/api/duty/checks/batch", body, content_type="application/json")


# --- Check-in and check-out ------------------------------------------------------------------------

def test_check_in_and_out_through_the_queue(duty, client):
    shift = _shift(duty["site"], start_in=-dt.timedelta(minutes=20))
    a = actions.assign(acting_user=duty["lead"], shift=shift, user=duty["vol1"])
    client.force_login(duty["vol1"])
    cid = str(uuid.uuid4())
    entry = {"client_id": cid, "assignment": a.pk, "direction": "in", "device_at": timezone.now().isoformat()}
    r = _batch(client, [entry])
    assert r.status_code == 200 and r.json()["accepted"] == [cid], r.content
    a.refresh_from_db()
    assert a.state == A.CHECKED_IN and a.late and a.checkin_server_at is not None
    # The same entry sent again (the phone did not hear the answer): stored once.
    r = _batch(client, [entry])
    assert r.json()["accepted"] == [cid] and Assignment.objects.get(pk=a.pk).version == a.version
    # A new check-in on the same shift: refused with the reason, nothing changed.
    r = _batch(client, [{**entry, "client_id": str(uuid.uuid4())}])
    assert r.json()["accepted"] == [] and "state" in r.json()["rejected"][0]["errors"]
    out = {"client_id": str(uuid.uuid4()), "assignment": a.pk, "direction": "out", "note": "北门秩序正常"}
    r = _batch(client, [out])
    a.refresh_from_db()
    assert a.state == A.CHECKED_OUT and a.note == "北门秩序正常" and a.minutes == 0


def test_refusals_store_nothing(duty, client):
    shift = _shift(duty["site"])
    a1 = actions.assign(acting_user=duty["lead"], shift=shift, user=duty["vol1"])
    a2 = actions.assign(acting_user=duty["lead"], shift=shift, user=duty["vol2"])
    client.force_login(duty["vol1"])
    # Check-out before check-in.
    r = _batch(client, [{"client_id": "c1", "assignment": a1.pk, "direction": "out"}])
    assert r.json()["rejected"][0]["errors"] == {"state": str(_("Check in before checking out"))}
    # Someone else's shift: as if it did not exist.
    r = _batch(client, [{"client_id": "c2", "assignment": a2.pk, "direction": "in"}])
    assert "assignment" in r.json()["rejected"][0]["errors"]
    # A wrong direction, a wrong time.
    r = _batch(client, [{"client_id": "c3", "assignment": a1.pk, "direction": "sideways"},
                        {"client_id": "c4", "assignment": a1.pk, "direction": "in", "device_at": "yesterday"}])
    assert [list(x["errors"]) for x in r.json()["rejected"]] == [["direction"], ["device_at"]]
    assert not Assignment.objects.exclude(state=A.ASSIGNED).exists()
    # The page form without script: someone else's shift is a 400 with the reason.
    r = client.post("/duty/me/check/", {"assignment": a2.pk, "direction": "in"})
    assert r.status_code == 400


def _(s):
    from django.utils.translation import gettext

    return gettext(s)


def test_offline_entry_uses_device_time_and_skew_is_flagged(duty, client):
    shift = _shift(duty["site"], start_in=-dt.timedelta(minutes=50))
    a = actions.assign(acting_user=duty["lead"], shift=shift, user=duty["vol1"])
    b = actions.assign(acting_user=duty["lead"], shift=_shift(duty["site"], start_in=dt.timedelta(hours=5)), user=duty["vol1"])
    client.force_login(duty["vol1"])
    on_time = shift.starts_at + dt.timedelta(minutes=1)  # queued offline on arrival, sent 49 minutes later
    _batch(client, [{"client_id": "off1", "assignment": a.pk, "direction": "in", "device_at": on_time.isoformat(), "offline": True}],
           sent_at=timezone.now().isoformat())
    a.refresh_from_db()
    assert a.state == A.CHECKED_IN and not a.late and a.checkin_at == on_time and not a.clock_skew
    # A phone whose clock is 30 minutes ahead: flagged.
    skewed = timezone.now() + dt.timedelta(minutes=30)
    b.shift.starts_at = timezone.now() - dt.timedelta(minutes=1)
    Shift.objects.filter(pk=b.shift_id).update(starts_at=b.shift.starts_at)
    _batch(client, [{"client_id": "sk1", "assignment": b.pk, "direction": "in", "device_at": skewed.isoformat()}],
           sent_at=skewed.isoformat())
    b.refresh_from_db()
    assert b.state == A.CHECKED_IN and b.clock_skew


def test_shift_left_without_checkout_closes_itself(duty):
    shift = _shift(duty["site"], start_in=-dt.timedelta(hours=7), hours=4)
    a = Assignment.objects.create(shift=shift, user=duty["vol1"], site=duty["site"], place_path=shift.place_path,
                                  state=A.CHECKED_IN, checkin_at=shift.starts_at, late=False)
    missed = Assignment.objects.create(shift=shift, user=duty["vol2"], site=duty["site"], place_path=shift.place_path)
    assert actions.close_overdue() == {"closed": 1, "missed": 1}
    a.refresh_from_db()
    missed.refresh_from_db()
    assert a.state == A.CHECKED_OUT and a.auto_closed and a.minutes == 240 and missed.state == A.MISSED


# --- Slots, conflicts ------------------------------------------------------------------------------

def test_last_open_slot_one_wins_and_conflicts_refused(duty, client):
    shift = _shift(duty["site"], slots=1, open=True, start_in=dt.timedelta(hours=3))
    client.force_login(duty["vol1"])
    assert client.post("/duty/me/take/", {"shift": shift.pk}).status_code == 302
    client.force_login(duty["vol2"])
    r = client.post("/duty/me/take/", {"shift": shift.pk})
    assert r.status_code == 409
    assert Assignment.objects.filter(shift=shift).count() == 1
    # Overlapping shift refused; weekly limit refused.
    overlap = _shift(duty["site"], start_in=dt.timedelta(hours=4), slots=3)
    with pytest.raises(Invalid) as exc:
        actions.assign(acting_user=duty["lead"], shift=overlap, user=duty["vol1"])
    assert "user" in exc.value.errors
    Deployment.objects.filter(user=duty["vol2"]).update(weekly_limit=6)
    long = _shift(duty["site"], start_in=dt.timedelta(hours=30), hours=8)
    with pytest.raises(Invalid):
        actions.assign(acting_user=duty["lead"], shift=long, user=duty["vol2"])
    # A shift not open: a volunteer cannot take it.
    closed = _shift(duty["site"], start_in=dt.timedelta(hours=50))
    assert client.post("/duty/me/take/", {"shift": closed.pk}).status_code == 409


@pytest.mark.django_db(transaction=True)
def test_last_slot_taken_concurrently_one_wins(cast):
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL")
    site = create_organization(acting_user=None, kind="site", name="并发值守点", code="DUTYC", place=cast.compound_a1)
    users = [make_user(f"race{i}", [("volunteer", site)]) for i in range(4)]
    for u in users:
        actions.deploy(acting_user=None, user=u, site=site, starts_on=timezone.localdate())
    shift = _shift(site, slots=1, open=True, start_in=dt.timedelta(hours=2))
    results = []
    barrier = threading.Barrier(len(users))

    def go(u):
        from django.db import connections

        barrier.wait()
        try:
            actions.take_slot(acting_user=u, shift=shift)
            results.append("won")
        except (Conflict, Invalid):
            results.append("lost")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=go, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost"] * 3 + ["won"]
    assert Assignment.objects.filter(shift=shift).count() == 1


# --- Health ---------------------------------------------------------------------------------------

def test_fever_takes_person_off_until_a_medic_clears(duty, cast, client):
    today = _shift(duty["site"], start_in=dt.timedelta(hours=1))
    tomorrow = _shift(duty["site"], start_in=dt.timedelta(hours=25))
    a1 = actions.assign(acting_user=duty["lead"], shift=today, user=duty["vol1"])
    a2 = actions.assign(acting_user=duty["lead"], shift=tomorrow, user=duty["vol1"])
    client.force_login(duty["vol1"])
    r = client.post("/api/duty/health", {"temperature": "38.2", "symptoms": ["cough"]}, content_type="application/json")
    assert r.status_code == 200 and r.json()["state"] == "unwell" and r.json()["removed_from"] == 2
    assert {a.state for a in Assignment.objects.filter(pk__in=[a1.pk, a2.pk])} == {A.REMOVED}
    # Nobody unwell back on the schedule; a replacement is proposed for the vacated shift.
    with pytest.raises(Invalid):
        actions.assign(acting_user=duty["lead"], shift=today, user=duty["vol1"])
    assert duty["vol1"].pk not in queries.suggest(today) and queries.suggest(today)
    # The board shows it; the medic clears; the person may be scheduled again.
    client.force_login(duty["lead"])
    page = client.get(f"/duty/sites/{duty['site'].pk}/")
    assert page.status_code == 200 and "vol1" in page.content.decode()
    hc = HealthCheck.objects.get(user=duty["vol1"])
    client.force_login(cast.worker_a1)
    assert client.post(f"/duty/health/{hc.pk}/clear/").status_code == 403
    client.force_login(cast.medic_a)
    assert client.post(f"/duty/health/{hc.pk}/clear/").status_code == 302
    assert client.post(f"/duty/health/{hc.pk}/clear/").status_code == 409  # already cleared
    assert actions.assign(acting_user=duty["lead"], shift=today, user=duty["vol1"]).state == A.ASSIGNED
    # Bad input: the field named, nothing stored.
    client.force_login(duty["vol2"])
    r = client.post("/api/duty/health", {"temperature": "hot"}, content_type="application/json")
    assert r.status_code == 422 and "temperature" in r.content.decode()
    assert not HealthCheck.objects.filter(user=duty["vol2"]).exists()


# --- Who sees what --------------------------------------------------------------------------------

def test_sender_sees_only_its_own_people(duty, cast, client):
    client.force_login(cast.liaison_x)
    r = client.get("/api/duty/sender")
    names = sorted(p["name"] for p in r.json()["people"])
    assert names == ["vol1", "vol2"]
    page = client.get("/duty/sender/").content.decode()
    assert "vol1" in page and "vol3" not in page


def test_site_lead_sees_only_its_site(duty, client):
    client.force_login(duty["lead"])
    assert client.get(f"/duty/sites/{duty['site'].pk}/").status_code == 200
    assert client.get(f"/duty/sites/{duty['other'].pk}/").status_code == 404
    assert client.get(f"/api/duty/sites/{duty['other'].pk}/board").status_code == 404
    r = client.post(f"/duty/sites/{duty['site'].pk}/shifts/", {"post": "gate", "starts_at": "2030-01-01T08:00",
                                                                "ends_at": "2030-01-01T07:00", "slots": "2"})
    assert r.status_code == 400 and not Shift.objects.filter(site=duty["site"]).exists()


def test_volunteer_home_shows_own_shifts_only(duty, client):
    s = _shift(duty["site"], start_in=dt.timedelta(minutes=10))
    actions.assign(acting_user=duty["lead"], shift=s, user=duty["vol1"])
    client.force_login(duty["vol2"])
    page = client.get("/duty/").content.decode()
    assert f'data-assignment="' not in page
    client.force_login(duty["vol1"])
    r = client.get("/api/duty/me")
    assert [x["shift_id"] for x in r.json()] == [s.pk]


# --- For other modules ------------------------------------------------------------------------------

def test_on_duty_and_escalation(duty, cast):
    s = _shift(duty["site"], start_in=-dt.timedelta(minutes=1))
    a = actions.assign(acting_user=duty["lead"], shift=s, user=duty["vol1"])
    assert list(queries.on_duty(site=duty["site"])) == []
    assert list(queries.on_duty(site=duty["site"], planned=True)) == [duty["vol1"]]
    actions.check(acting_user=duty["vol1"], assignment_id=a.pk, direction="in", client_id="x")
    assert list(queries.on_duty(place_path=cast.grid_a1.path)) == [duty["vol1"]]
    assert list(queries.on_duty(place_path=cast.grid_b1.path)) == []
    head = make_user("head_a1")
    leader = make_user("leader_a1")
    actions.add_position(acting_user=None, grid=cast.grid_a1, role="head", name="网格长", user=head)
    actions.add_position(acting_user=None, grid=cast.grid_a1, role="leader", name="包片领导", user=leader)
    assert queries.escalation(cast.compound_a1.path) == [[head], [leader]]
    assert queries.escalation(cast.grid_b1.path) == [[], []]


def test_figures_registered(duty):
    from fangkong.lib import registry

    s = _shift(duty["site"], start_in=-dt.timedelta(minutes=30))
    a = actions.assign(acting_user=duty["lead"], shift=s, user=duty["vol1"])
    actions.check(acting_user=duty["vol1"], assignment_id=a.pk, direction="in", client_id="f1")
    actions.health_checkin(acting_user=duty["vol2"], temperature="38.0")
    keys = {m.key: m for m in registry.metrics()}
    day = timezone.localdate()
    assert dict(keys["duty.on_duty"].counts(day)) == {duty["site"].place_path: 1}
    assert dict(keys["duty.late"].counts(day)) == {duty["site"].place_path: 1}
    assert dict(keys["duty.unwell"].counts(day)) == {duty["site"].place_path: 1}
    assert dict(keys["duty.deployed"].by_org(day)) == {duty["vol1"].deployments.get().sender_id: 2,
                                                      duty["vol3"].deployments.get().sender_id: 1}


# --- Grid roster ---------------------------------------------------------------------------------

def _xlsx(tmp_path, rows):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["网格花名册"])
    ws.append(["网格编码", "岗位", "姓名", "用户名", "起始日期"])
    for r in rows:
        ws.append(r)
    path = tmp_path / "roster.xlsx"
    wb.save(path)
    return path


def test_roster_import_all_or_nothing(cast, client, tmp_path):
    from fangkong.duty.models import GridPosition

    client.force_login(cast.committee_a)
    bad = _xlsx(tmp_path, [["A1", "责任领导", "包片领导甲", "", "2020-02-01"], ["B1", "网格员", "乙", "", ""],
                           ["A2", "队长", "丙", "", ""]])
    with open(bad, "rb") as f:
        r = client.post("/duty/roster/import/", {"file": f})
    text = r.content.decode()
    assert r.status_code == 400 and not GridPosition.objects.exists()
    assert "4" in text and "5" in text  # the rows in error named (B1 is outside community A)
    good = _xlsx(tmp_path, [["A1", "责任领导", "包片领导甲", "", "2020-02-01"], ["A1", "负责人", "网格长乙", "worker_a1", ""],
                            ["A2", "网格员", "网格员丙", "", ""]])
    with open(good, "rb") as f:
        assert client.post("/duty/roster/import/", {"file": f}).status_code == 302
    assert GridPosition.objects.count() == 3
    assert queries.escalation(cast.compound_a1.path) == [[cast.worker_a1], []]
    page = client.get(f"/duty/grids/{cast.grid_a1.pk}/").content.decode()
    assert "包片领导甲" in page and "网格长乙" in page
    # A grid worker reads the roster of its grid, not another community's.
    client.force_login(cast.worker_b1)
    assert client.get(f"/duty/grids/{cast.grid_a1.pk}/").status_code == 404


def test_overdue_alert_escalates_to_the_grid_head_then_leader(cast):
    from fangkong.lib import registry
    from fangkong.notify.models import Recipient

    leader = make_user("leader_x")
    actions.add_position(acting_user=None, grid=cast.grid_a1, role="leader", name="包片领导", user=leader)
    alert = registry.Alert(kind="inflow.overdue", place_path=cast.compound_a1.path, text="逾期", obj_type="inflow.application",
                           obj_id=1, key="review")
    registry.raise_alert(alert)
    assert Recipient.objects.filter(user=leader).count() == 1  # no head with an account: the leader
    head = make_user("head_x")
    actions.add_position(acting_user=None, grid=cast.grid_a1, role="head", name="网格长", user=head)
    registry.raise_alert(registry.Alert(**{**alert.__dict__, "obj_id": 2}))
    assert Recipient.objects.filter(user=head).count() == 1 and Recipient.objects.filter(user=leader).count() == 1
    registry.raise_alert(registry.Alert(**{**alert.__dict__, "obj_id": 2}))  # once per alert
    assert Recipient.objects.filter(user=head).count() == 1
    registry.raise_alert(registry.Alert(**{**alert.__dict__, "kind": "gate.fever", "obj_id": 3}))  # not an escalation
    assert Recipient.objects.filter(user=head).count() == 1


def test_missing_checkin_alerts_the_site_lead_once(duty):
    from fangkong.notify.models import Recipient

    s = _shift(duty["site"], start_in=-dt.timedelta(minutes=20))
    actions.assign(acting_user=duty["lead"], shift=s, user=duty["vol1"])
    assert actions.alert_missing() == 1
    assert actions.alert_missing() == 1  # told again: the inbox keeps one message
    assert Recipient.objects.filter(user=duty["lead"]).count() == 1


def test_needs_reach_the_sender(duty, cast, client):
    client.force_login(duty["vol1"])
    assert client.post("/duty/me/needs/", {"needs": "家中老人需代购药品"}).status_code == 302
    assert client.post("/duty/me/needs/", {"needs": "x" * 201}).status_code == 400
    client.force_login(cast.liaison_x)
    r = client.get("/api/duty/sender").json()
    assert r["totals"]["needs"] == 1 and {p["name"]: p["needs"] for p in r["people"]}["vol1"] == "家中老人需代购药品"


def test_teams_attach_to_a_grid_with_zones_and_model_posts(cast, client):
    from fangkong.duty.models import Team, TeamKind

    kind = TeamKind.objects.get(code="party_pioneer")
    client.force_login(cast.committee_a)
    r = client.post(f"/duty/grids/{cast.grid_a1.pk}/teams/", {"kind": kind.pk, "place": cast.compound_a1.pk, "name": "甲一小区党员先锋队"})
    assert r.status_code == 302
    team = Team.objects.get()
    assert team.place == cast.compound_a1
    assert client.post(f"/duty/teams/{team.pk}/members/", {"name": "党员甲", "zone": "1号楼1单元", "model_post": "党员示范岗"}).status_code == 302
    assert client.post(f"/duty/teams/{team.pk}/members/", {"name": ""}).status_code == 400
    page = client.get(f"/duty/grids/{cast.grid_a1.pk}/").content.decode()
    assert "甲一小区党员先锋队" in page and "1号楼1单元" in page
    # Another grid's place cannot be chosen.
    r = client.post(f"/duty/grids/{cast.grid_a1.pk}/teams/", {"kind": kind.pk, "place": cast.grid_a2.pk, "name": "x"})
    assert r.status_code == 400
    client.force_login(cast.committee_b)
    assert client.post(f"/duty/teams/{team.pk}/members/", {"name": "乙"}).status_code == 404


# --- Temporary passes by the police, where the street allows ------------------------------------

def test_police_issue_temporary_passes_where_the_street_allows(cast, client):
    from fangkong.audit.models import AuditEvent
    from fangkong.passes.actions import check_token
    from fangkong.passes.models import Pass
    from fangkong.duty.models import StreetSetting

    police = make_user("police_a", [("police", cast.comm_a)])
    form = {"name": "访客甲", "phone": "13900000009", "reason": "探望老人", "host": "1号楼101室", "hours": "6"}
    url = f"/duty/police/places/{cast.compound_a1.pk}/pass/"
    api = f"/api/duty/police/places/{cast.compound_a1.pk}/passes"
    body = {"name": "访客乙", "phone": "13900000010", "reason": "送药", "hours": 4}
    client.force_login(police)
    # The street set nothing: not allowed (403, audited), the page says so, nothing issued.
    assert "not-allowed" in client.get(url).content.decode()
    assert client.post(url, form).status_code == 403
    assert client.post(api, body, content_type="application/json").status_code == 403
    assert not Pass.objects.exists()
    assert AuditEvent.objects.filter(action="duty.police_pass", outcome="denied", user=police).count() == 2
    # Only the street's coordinator may allow it (a committee member may not; a coordinator's
    # street is its own: another street is refused as a missing one).
    client.force_login(cast.committee_a)
    assert client.post("/duty/streets/settings/", {"street": cast.street.pk, "police_passes": "1"}).status_code == 403
    client.force_login(cast.coordinator)
    r = client.post("/duty/streets/settings/", {"street": cast.street.pk, "police_passes": "1", "police_pass_hours": "99"})
    assert r.status_code == 400 and not StreetSetting.objects.exists()
    r = client.post("/duty/streets/settings/", {"street": cast.comm_a.pk, "police_passes": "1", "police_pass_hours": "8"})
    assert r.status_code == 400 and not StreetSetting.objects.exists()
    r = client.post("/duty/streets/settings/", {"street": cast.street.pk, "police_passes": "1", "police_pass_hours": "8"})
    assert r.status_code == 302
    assert AuditEvent.objects.filter(action="duty.street.settings", user=cast.coordinator).count() == 1
    assert "checked" in client.get("/duty/streets/").content.decode()
    # Allowed: the police issue a visitor's pass of the passes module at a place of theirs.
    client.force_login(police)
    assert 'id="police-pass-form"' in client.get(url).content.decode()
    r = client.post(url, form)
    assert r.status_code == 200 and 'id="police-pass"' in r.content.decode()
    p = Pass.objects.get()
    assert p.kind == Pass.Kind.VISITOR and p.place == cast.compound_a1 and p.issued_by == police
    assert p.host_household == cast.hh_a1 and round((p.valid_until - p.valid_from).total_seconds()) == 6 * 3600
    r = client.post(api, body, content_type="application/json")
    assert r.status_code == 201, r.content
    assert check_token(r.json()["token"]).pass_id == r.json()["id"]
    assert AuditEvent.objects.filter(action="duty.police_pass", outcome="ok", user=police).count() == 2
    assert AuditEvent.objects.filter(action="passes.issue.visitor", user=police).count() == 2
    listed = client.get("/duty/police/").content.decode()
    assert p.serial in listed and "访客" not in listed  # masked names only
    # No longer than the street allows; bad input named; nothing issued.
    r = client.post(api, {**body, "hours": 9}, content_type="application/json")
    assert r.status_code in (400, 422) and "hours" in r.content.decode()
    assert client.post(url, {**form, "phone": "12"}).status_code == 400
    assert Pass.objects.count() == 2
    # Another jurisdiction: 404, as for a missing place.
    assert client.get(f"/duty/police/places/{cast.grid_b1.pk}/pass/").status_code == 404
    assert client.post(f"/api/duty/police/places/{cast.grid_b1.pk}/passes", body,
                       content_type="application/json").status_code == 404
    # Other roles: 403. The gate page's visitor form is the guards' (the police use theirs).
    client.force_login(cast.worker_a1)
    assert client.post(url, form).status_code == 403
    client.force_login(police)
    assert client.post("/gates/visitor/", {**form, "place": cast.compound_a1.pk}).status_code == 403
    # The street withdraws it: refused again.
    actions.set_street_settings(acting_user=cast.coordinator, street=cast.street, police_passes=False)
    assert client.post(api, body, content_type="application/json").status_code == 403
    assert Pass.objects.count() == 2


# --- The post's QR code; the health check-in through the phone's queue ---------------------------

def test_post_qr_code_checks_in_and_the_page_wires_the_camera(duty, client):
    shift = _shift(duty["site"], start_in=-dt.timedelta(minutes=2))
    a = actions.assign(acting_user=duty["lead"], shift=shift, user=duty["vol1"])
    # The responsible person prints the post's QR code from the shift page.
    client.force_login(duty["lead"])
    page = client.get(f"/duty/shifts/{shift.pk}/").content.decode()
    assert 'id="post-qr"' in page and "<svg" in page
    # The volunteer's page: the camera scanner (the gate page's vendored jsQR, kept offline by
    # the service worker), the typed-code field, and the list's buttons as the fallback.
    client.force_login(duty["vol1"])
    page = client.get("/duty/").content.decode()
    assert "vendor/jsqr/jsQR.js" in page and 'id="camera-btn"' in page and 'id="scan-form"' in page
    assert 'class="big check-in"' in page and "jsQR.js" in page.split('id="duty-config"')[1].split("</script>")[0]
    # A scan sends the post's code with the entry: another post's code is refused, nothing stored.
    r = _batch(client, [{"client_id": "qr1", "assignment": a.pk, "direction": "in", "post_code": "wrong-post"}])
    assert list(r.json()["rejected"][0]["errors"]) == ["post_code"]
    assert Assignment.objects.get(pk=a.pk).state == A.ASSIGNED
    r = _batch(client, [{"client_id": "qr2", "assignment": a.pk, "direction": "in", "post_code": shift.post_code}])
    assert r.json()["accepted"] == ["qr2"] and Assignment.objects.get(pk=a.pk).state == A.CHECKED_IN


def test_health_checkin_queued_offline_is_stored_once(duty, client):
    later = _shift(duty["site"], start_in=dt.timedelta(hours=2))
    a = actions.assign(acting_user=duty["lead"], shift=later, user=duty["vol1"])
    client.force_login(duty["vol1"])
    at = timezone.now() - dt.timedelta(minutes=40)  # reported on the phone without network 40 minutes ago
    entry = {"kind": "health", "client_id": "h1", "temperature": "36.6", "symptoms": [], "device_at": at.isoformat(),
             "offline": True}
    for _i in range(2):  # the phone did not hear the first answer: sent again, stored once
        r = _batch(client, [entry])
        assert r.status_code == 200 and r.json()["accepted"] == ["h1"], r.content
        assert r.json()["health"][0]["state"] == "ok"
    hc = HealthCheck.objects.get(user=duty["vol1"])
    assert hc.client_id == "h1" and hc.reported_at == at and hc.day == timezone.localdate(at)
    # A fever in the same queue as a check-in: off the shift still ahead, the page told which.
    fever = {**entry, "client_id": "h2", "temperature": "38.4", "device_at": timezone.now().isoformat(), "offline": False}
    r = _batch(client, [fever, fever])
    body = r.json()
    assert body["accepted"] == ["h2", "h2"] and [h["removed"] for h in body["health"]] == [[a.pk], [a.pk]]
    assert HealthCheck.objects.filter(user=duty["vol1"]).count() == 2
    assert Assignment.objects.get(pk=a.pk).state == A.REMOVED
    # Bad entries: rejected with the field named, nothing stored; another person's entry id is not theirs.
    r = _batch(client, [{**entry, "client_id": "h3", "temperature": "hot"},
                        {**entry, "client_id": "h4", "symptoms": ["headache"]},
                        {**entry, "client_id": "h5", "device_at": (timezone.now() + dt.timedelta(hours=1)).isoformat()}])
    assert [list(x["errors"]) for x in r.json()["rejected"]] == [["temperature"], ["symptoms"], ["device_at"]]
    client.force_login(duty["vol2"])
    r = _batch(client, [entry])
    assert r.json()["accepted"] == [] and HealthCheck.objects.count() == 2


# --- Fill the whole week ----------------------------------------------------------------------------

def test_fill_the_whole_week_fixed_roster_all_or_report(cast, client):
    """Three volunteers, next week's shifts of a site. Known answer, balanced over the week
    (fewest hours first, ties to the lower id): v1 has a weekly limit of 20 h, v2 cares for
    family (day shifts) and is already on Tuesday's 8-hour shift, v3's health allows 4 hours.
      Mon 08–12 ×2: v1 0, v2 8, v3 0        -> v1, v3
      Mon 20–24:    v1 4, v3 4 (v2: family) -> v1
      Tue 08–16 (1 of 2 free): v2 on it, v3 (8 h: health) -> v1 (16 h)
      Wed 12–16:    v1 16, v2 8, v3 4       -> v3
      Thu 00–08:    v1 over 20 h, v2 family, v3 health -> no one: reported."""
    from fangkong.audit.models import AuditEvent

    site = create_organization(acting_user=None, kind="site", name="周排班点", code="WEEK1", place=cast.compound_a1)
    lead = make_user("week_lead", [("site_lead", site)])
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=7)
    v1, v2, v3 = (make_user(f"week_v{i}", [("volunteer", site)]) for i in (1, 2, 3))
    for u, extra in ((v1, {"weekly_limit": 20}), (v2, {"family_care": True}), (v3, {"health_limited": True})):
        actions.deploy(acting_user=lead, user=u, site=site, starts_on=today, **extra)
    tz = timezone.get_current_timezone()

    def shift(day, h0, h1, slots=1):
        base = dt.datetime.combine(monday + dt.timedelta(days=day), dt.time.min, tzinfo=tz)
        return actions.create_shift(acting_user=lead, site=site, post="gate", slots=slots,
                                    starts_at=base + dt.timedelta(hours=h0), ends_at=base + dt.timedelta(hours=h1))

    mon_am, mon_pm, tue, wed = shift(0, 8, 12, 2), shift(0, 20, 24), shift(1, 8, 16, 2), shift(2, 12, 16)
    actions.assign(acting_user=lead, shift=tue, user=v2)
    thu = shift(3, 0, 8)
    other_week = shift(8, 8, 12)  # the week after: untouched
    client.force_login(lead)
    # Not every place can be taken: nothing stored, the report names Thursday's shift.
    r = client.post(f"/duty/sites/{site.pk}/fill-week/", {"week": (monday + dt.timedelta(days=3)).isoformat()})
    assert r.status_code == 409 and f"{timezone.localtime(thu.starts_at):%m-%d %H:%M}" in r.content.decode()
    assert Assignment.objects.filter(site=site).count() == 1
    assert queries.suggest_week(site, monday) == ({mon_am.pk: [v1.pk, v3.pk], mon_pm.pk: [v1.pk], tue.pk: [v1.pk],
                                                   wed.pk: [v3.pk], thu.pk: []}, {thu.pk: 1})
    # Fill what can be filled: exactly the known answer, Thursday reported.
    r = client.post(f"/duty/sites/{site.pk}/fill-week/", {"week": monday.isoformat(), "partial": "1"})
    assert r.status_code == 302
    got = {}
    for sid, uid in Assignment.objects.filter(site=site).values_list("shift_id", "user_id"):
        got.setdefault(sid, set()).add(uid)
    assert got == {mon_am.pk: {v1.pk, v3.pk}, mon_pm.pk: {v1.pk}, tue.pk: {v1.pk, v2.pk}, wed.pk: {v3.pk}}
    assert other_week.pk not in got
    assert AuditEvent.objects.filter(action="duty.fill_week", user=lead, outcome="ok").count() == 1
    assert AuditEvent.objects.filter(action="duty.fill_week", user=lead, outcome="refused").count() == 1
    # Thursday's shift made a day shift: now the week fills completely (v2 cares for family: 08–20 ok).
    Shift.objects.filter(pk=thu.pk).update(starts_at=thu.starts_at + dt.timedelta(hours=9), ends_at=thu.ends_at + dt.timedelta(hours=9))
    result = actions.fill_week(acting_user=lead, site=site, monday=monday)
    assert result == {"assigned": 1, "stored": True, "short": {}, "refused": {}}
    assert Assignment.objects.get(shift=thu).user == v2
    # Another site's lead: 404; a volunteer: 403.
    client.force_login(v1)
    assert client.post(f"/duty/sites/{site.pk}/fill-week/").status_code == 403
    client.force_login(make_user("other_lead", [("site_lead", create_organization(
        acting_user=None, kind="site", name="别处", code="WEEK2", place=cast.grid_b1))]))
    assert client.post(f"/duty/sites/{site.pk}/fill-week/").status_code == 404


# --- Services' deliverers from the people on duty ------------------------------------------------

def test_services_offer_the_people_on_duty_now_as_deliverers_first(duty, cast, client):
    """A request in community A: the committee's choice of deliverers lists first those on
    duty now at the sites serving it (queries.on_duty), then the others by name; someone on
    duty at a sibling community's site is not offered at all."""
    from fangkong.services import actions as services

    aaa = make_user("aaa_vol", [("volunteer", duty["site"])])  # first by name, not on duty
    now_shift = _shift(duty["site"], start_in=-dt.timedelta(minutes=10))
    a = actions.assign(acting_user=duty["lead"], shift=now_shift, user=duty["vol3"])
    actions.check(acting_user=duty["vol3"], assignment_id=a.pk, direction="in", client_id="svc1")
    actions.assign(acting_user=duty["lead"], shift=now_shift, user=duty["vol2"])  # on the shift, not yet checked in
    far = make_user("far_vol", [("volunteer", duty["other"])])
    actions.deploy(acting_user=None, user=far, site=duty["other"],
                       starts_on=timezone.localdate() - dt.timedelta(days=1))  # its shift began 10 min ago: maybe yesterday
    far_shift = _shift(duty["other"], start_in=-dt.timedelta(minutes=10))
    actions.assign(acting_user=None, shift=far_shift, user=far)
    req = services.create_request(acting_user=None, person=cast.person_a1, kind="medicine", text="药", source="staff")
    client.force_login(cast.committee_a)
    page = client.get(f"/services/{req.pk}/").content.decode()
    options = page.split('id="id_assignee"')[1].split("</select>")[0]
    order = [o.split(">")[1].split(" ")[0].split("<")[0] for o in options.split("<option")[1:]]
    assert order[:2] == ["vol2", "vol3"] and order.index("aaa_vol") > 1 and "far_vol" not in order
    assert options.count('data-on-duty="1"') == 2
