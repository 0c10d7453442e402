"""Disinfection (M12) through HTTP as its users drive it (a compound's property staff, the
committee, a volunteer), then the stored rounds: frequencies → rounds on a fixed clock,
stairwells generated for a compound and their QR sheet, a round logged by scanning a
target's code with the agent taken from the supplies ledger (a double scan and a resend
counted once), case-triggered rounds from the alerts of other modules, the isolated
households' waste, escalation of overdue key-area rounds, daily figures and to-dos."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from fangkong.disinfection import actions
from fangkong.disinfection.models import Round, Target
from fangkong.lib import registry
from fangkong.places.actions import create_place
from fangkong.supplies import actions as supplies
from fangkong.supplies.catalogue import install
from fangkong.supplies.models import Entry, Holder, Item, Package
from tests.cast import make_user


@pytest.fixture
def world(cast):
    install(Item, Package)
    b1 = create_place(acting_user=None, kind="building", name="1号楼", code="A1Y-1", parent=cast.compound_a1)
    b2 = create_place(acting_user=None, kind="building", name="2号楼", code="A1Y-2", parent=cast.compound_a1)
    compound_b = create_place(acting_user=None, kind="compound", name="乙一小区", code="B1Y", parent=cast.grid_b1)
    bb = create_place(acting_user=None, kind="building", name="9号楼", code="B1Y-9", parent=compound_b)
    store = supplies.create_holder(acting_user=None, kind="compound", place=cast.compound_a1)
    dis = Item.objects.get(code="disinfectant")
    supplies.receive(acting_user=None, holder=store, item=dis, quantity=10)
    return {
        "b1": b1, "b2": b2, "compound_b": compound_b, "bb": bb, "store": store, "dis": dis,
        "property_a": make_user("property_a", [("property", cast.compound_a1)]),
        "property_b": make_user("property_b", [("property", compound_b)]),
    }


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def api(c, path, payload):
    return c.post(path, data=json.dumps(payload), content_type="application/json")


def local(day, hour, minute=0):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def on_hand(world):
    return supplies.on_hand(world["store"], world["dis"])


# --- Frequencies → rounds ---------------------------------------------------------------

def test_frequency_gives_the_due_days_and_slots_on_a_fixed_clock(world):
    every3 = actions.create_target(acting_user=None, place=world["b1"], kind="stairwell", label="1号楼1单元楼道", every_days=3)
    key = actions.create_target(acting_user=None, place=world["b1"], kind="stairwell", label="1号楼2单元楼道",
                                every_days=1, times_a_day=3, key_area=True)
    day0 = dt.date(2026, 3, 2)
    days = [day0 + dt.timedelta(days=i) for i in range(9)]
    due = [d for d in days if actions.due_slots(every3, d)]
    assert len(due) == 3 and all((b - a).days == 3 for a, b in zip(due, due[1:]))
    assert [at for _s, at in actions.due_slots(key, day0)] == [local(day0, 10), local(day0, 14), local(day0, 18)]
    assert actions.due_slots(every3, due[0]) == [(0, local(due[0], 18))]

    made = actions.generate(due[0])
    assert made == 4  # 3 slots of the key stairwell + the every-3-days stairwell on its day
    assert actions.generate(due[0]) == 0  # idempotent
    assert Round.objects.filter(target=every3).count() == 1
    other = next(d for d in days if not actions.due_slots(every3, d))
    actions.generate(other)
    assert Round.objects.filter(target=every3, day=other).count() == 0
    first = Round.objects.filter(target=key, day=due[0]).order_by("slot").first()
    assert not actions.is_overdue(first, local(due[0], 9, 59))
    assert actions.is_overdue(first, local(due[0], 10, 1))


# --- Targets ----------------------------------------------------------------------------

def test_property_generates_stairwells_for_its_compound_and_prints_the_qr_sheet(world, cast):
    url = f"/disinfection/places/{cast.compound_a1.pk}/stairwells/"
    assert client_for(world["property_a"]).post(url, {"units": "3", "every_days": "2"}).status_code == 302
    assert Target.objects.filter(compound=cast.compound_a1, kind="stairwell").count() == 6
    assert client_for(world["property_a"]).post(url, {"units": "3"}).status_code == 302  # kept, not doubled
    assert Target.objects.filter(compound=cast.compound_a1, kind="stairwell").count() == 6
    assert set(Target.objects.filter(place=world["b2"]).values_list("label", flat=True)) == {
        "2号楼1单元楼道", "2号楼2单元楼道", "2号楼3单元楼道"}
    assert client_for(cast.volunteer).post(url, {"units": "1"}).status_code == 403
    assert client_for(world["property_b"]).post(url, {"units": "1"}).status_code == 404
    pdf = client_for(world["property_a"]).get(f"/disinfection/places/{cast.compound_a1.pk}/qr.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client_for(world["property_b"]).get(f"/disinfection/places/{cast.compound_a1.pk}/qr.pdf").status_code == 404
    page = client_for(cast.committee_a).get(f"/disinfection/places/{cast.compound_a1.pk}/")
    assert page.status_code == 200 and "2号楼3单元楼道" in page.content.decode()


def test_one_target_added_works_403_404(world, cast):
    url = f"/disinfection/places/{cast.compound_a1.pk}/targets/"
    form = {"place": world["b1"].pk, "kind": "bin", "label": "1号楼东侧垃圾桶", "every_days": "1", "times_a_day": "2"}
    assert client_for(world["property_a"]).post(url, form).status_code == 302
    t = Target.objects.get(label="1号楼东侧垃圾桶")
    assert (t.place_id, t.compound_id, t.times_a_day) == (world["b1"].pk, cast.compound_a1.pk, 2)
    assert client_for(cast.worker_a1).post(url, {**form, "label": "x"}).status_code == 403
    assert client_for(world["property_b"]).post(url, {**form, "label": "y"}).status_code == 404
    # A building of another compound named in the form: not found for this user.
    assert client_for(world["property_a"]).post(url, {**form, "place": world["bb"].pk, "label": "z"}).status_code == 404
    assert client_for(world["property_a"]).post(url, {**form, "every_days": "99", "label": "w"}).status_code == 400
    assert not Target.objects.filter(label__in=["x", "y", "z", "w"]).exists()


def test_targets_imported_from_a_list_all_or_nothing(world, cast):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = f"/disinfection/places/{cast.compound_a1.pk}/import/"
    good = "楼栋,类型,名称,每几天,每天几次,重点\n1号楼,垃圾桶,1号楼西垃圾桶,1,1,否\n,公厕,小区公厕,1,2,是\n".encode()
    bad = "楼栋,类型,名称\n1号楼,垃圾桶,甲\n99号楼,垃圾桶,乙\n".encode()
    c = client_for(world["property_a"])
    assert c.post(url, {"file": SimpleUploadedFile("t.csv", bad)}).status_code == 400
    assert not Target.objects.filter(label="甲").exists()
    assert c.post(url, {"file": SimpleUploadedFile("t.csv", good)}).status_code == 302
    toilet = Target.objects.get(label="小区公厕")
    assert toilet.kind == "toilet" and toilet.key_area and toilet.times_a_day == 2 and toilet.place_id == cast.compound_a1.pk
    assert client_for(world["property_b"]).post(url, {"file": SimpleUploadedFile("t.csv", good)}).status_code == 404


# --- Logging a round --------------------------------------------------------------------

def _due_today(world, **kw):
    t = actions.create_target(acting_user=None, place=world["b1"], kind=kw.pop("kind", "stairwell"),
                              label=kw.pop("label", "1号楼1单元楼道"), **kw)
    today = timezone.localdate()
    r = Round.objects.create(target=t, day=today, slot=0, due_at=timezone.now() + dt.timedelta(hours=1),
                             **actions._round_fields(t))
    return t, r


def test_scan_logs_the_round_once_and_takes_the_agent_from_the_ledger(world, cast):
    t, r = _due_today(world)
    c = client_for(world["property_a"])
    page = c.get(f"/disinfection/t/{t.code}/")
    assert page.status_code == 200 and "1号楼1单元楼道" in page.content.decode()
    entry = {"client_id": "c-1", "code": t.code, "agent_id": world["dis"].pk, "amount": 2,
             "device_at": timezone.now().isoformat(), "offline": True}
    resp = api(c, "/api/disinfection/logs", {"entries": [entry]})
    assert resp.status_code == 200 and resp.json()["accepted"] == ["c-1"], resp.content
    assert api(c, "/api/disinfection/logs", {"entries": [entry]}).json()["accepted"] == ["c-1"]  # the resend
    # A second scan (a new press, a new client id) of the target just done: the same round.
    again = api(c, "/api/disinfection/logs", {"entries": [{**entry, "client_id": "c-2"}]}).json()
    assert again["accepted"] == ["c-2"] and again["rounds"][0]["id"] == r.pk
    r.refresh_from_db()
    assert r.state == "done" and r.done_by_id == world["property_a"].pk and r.offline and r.amount == 2
    assert on_hand(world) == 8  # one consumption of 2 jin
    uses = Entry.objects.filter(task="disinfection.round", task_id=r.pk)
    assert uses.count() == 1 and uses.get().quantity == -2 and uses.get().holder_id == world["store"].pk
    # The page shows it done; another compound's staff and a gate guard cannot log it.
    other = api(client_for(world["property_b"]), "/api/disinfection/logs", {"entries": [{**entry, "client_id": "c-3"}]})
    assert other.json()["rejected"][0]["client_id"] == "c-3"
    assert api(client_for(cast.guard_a), "/api/disinfection/logs", {"entries": [entry]}).status_code == 403


def test_log_form_works_403_404_and_short_stock_logs_nothing(world, cast):
    _t, r = _due_today(world)
    url = f"/disinfection/rounds/{r.pk}/log/"
    assert client_for(cast.worker_a1).post(url, {"client_id": "x"}).status_code == 403
    assert client_for(world["property_b"]).post(url, {"client_id": "x"}).status_code == 404
    short = client_for(world["property_a"]).post(url, {"client_id": "x", "agent": world["dis"].pk, "amount": "11"})
    assert short.status_code == 302
    r.refresh_from_db()
    assert r.state == "due" and on_hand(world) == 10  # 409 inside: nothing logged, nothing taken
    api_short = api(client_for(world["property_a"]), f"/api/disinfection/rounds/{r.pk}/log",
                    {"client_id": "y", "agent_id": world["dis"].pk, "amount": 11})
    assert api_short.status_code == 409
    ok = client_for(world["property_a"]).post(url, {"client_id": "z", "agent": world["dis"].pk, "amount": "3"})
    assert ok.status_code == 302
    r.refresh_from_db()
    assert r.state == "done" and on_hand(world) == 7
    # Logged again with another log id: refused, counted once.
    twice = api(client_for(world["property_a"]), f"/api/disinfection/rounds/{r.pk}/log", {"client_id": "w"})
    assert twice.status_code == 409 and on_hand(world) == 7
    assert api(client_for(world["property_b"]), f"/api/disinfection/rounds/{r.pk}/log", {"client_id": "v"}).status_code == 404


def test_phone_page_lists_todays_rounds_in_scope_only(world, cast):
    _due_today(world, label="1号楼3单元楼道")
    t_b = actions.create_target(acting_user=None, place=world["bb"], kind="bin", label="9号楼垃圾桶")
    Round.objects.create(target=t_b, day=timezone.localdate(), slot=0, due_at=timezone.now(), **actions._round_fields(t_b))
    page = client_for(world["property_a"]).get("/disinfection/today/").content.decode()
    assert "1号楼3单元楼道" in page and "9号楼垃圾桶" not in page
    assert client_for(cast.worker_a1).get("/disinfection/today/").status_code == 403
    assert client_for(world["property_b"]).get(f"/disinfection/t/{_t_code(world)}/").status_code == 404
    assert client_for(cast.committee_a).get("/disinfection/").status_code == 200


def _t_code(world):
    return Target.objects.get(label="1号楼3单元楼道").code


# --- Case-triggered rounds, isolation waste, escalation -----------------------------------

def test_a_fever_in_a_building_makes_one_round_for_the_building_due_within_hours(world, cast, settings):
    settings.DISINFECTION_CASE_HOURS = 4
    before = timezone.now()
    alert = registry.Alert(kind="observation.fever", place_path=world["b2"].path, text="发热", obj_type="observation.alert",
                           obj_id=7)
    registry.raise_alert(alert)
    registry.raise_alert(alert)  # told twice: one round
    r = Round.objects.get(kind="case")
    assert r.target.place_id == world["b2"].pk and r.target.kind == "case_area" and r.key_area
    assert before + dt.timedelta(hours=4) <= r.due_at <= timezone.now() + dt.timedelta(hours=4)
    # A fever at a gate about a registered person: the person's home (compound A1Y here).
    registry.raise_alert(registry.Alert(kind="gate.fever", place_path=cast.street.path, text="发热",
                                        person_id=cast.person_a1.pk, obj_type="clinic.visit", obj_id=3))
    assert Round.objects.filter(kind="case", target__place=cast.compound_a1).count() == 1
    # Other alerts make none; the committee of the community sees it on the board, the other does not.
    registry.raise_alert(registry.Alert(kind="observation.missed", place_path=world["b1"].path, text="x", obj_id=9,
                                        obj_type="observation.alert"))
    assert Round.objects.filter(kind="case").count() == 2
    assert "2号楼" in client_for(cast.committee_a).get("/disinfection/").content.decode()
    assert "2号楼" not in client_for(cast.committee_b).get("/disinfection/").content.decode()
    # Late: escalated once to the property staff and the committee.
    later = r.due_at + dt.timedelta(minutes=1)
    assert actions.escalate(now=later) == 2
    assert actions.escalate(now=later) == 0
    from fangkong.notify.models import Message

    assert Message.objects.filter(kind="disinfection.overdue").exists()


def test_isolated_households_waste_collected_daily_until_release(world, cast):
    from fangkong.observation import actions as observation
    from fangkong.observation.models import Observation

    obs = observation.start(acting_user=None, person=cast.person_a1, kind="home_observation", days=14)
    today = timezone.localdate()
    assert actions.collect_waste(day=today) == 1
    assert actions.collect_waste(day=today) == 0
    t = Target.objects.get(kind="isolation_waste")
    assert t.household_id == cast.person_a1.household_id and t.compound_id == cast.compound_a1.pk
    r = Round.objects.get(target=t)
    assert r.kind == "waste" and client_for(world["property_a"]).post(f"/disinfection/rounds/{r.pk}/log/",
                                                                       {"client_id": "w1"}).status_code == 302
    Observation.objects.filter(pk=obs.pk).update(state="released", ended_at=timezone.now())
    assert actions.collect_waste(day=today + dt.timedelta(days=1)) == 0
    t.refresh_from_db()
    assert not t.active


# --- Oversight ----------------------------------------------------------------------------

def test_daily_figures_and_todos(world, cast):
    t, r = _due_today(world, key_area=True)
    Round.objects.filter(pk=r.pk).update(due_at=timezone.now() - dt.timedelta(minutes=5))
    _t2, r2 = _due_today(world, label="1号楼2单元楼道")
    actions.log_round(acting_user=world["property_a"], round=r2, agent=world["dis"], amount=3, client_id="k")
    today = timezone.localdate()
    figures = {m.key: dict(m.counts(today)) for m in registry.metrics() if m.key.startswith("disinfection.")}
    path = world["b1"].path
    assert figures["disinfection.due"][path] == 2 and figures["disinfection.done"][path] == 1
    assert figures["disinfection.late"][path] == 1 and figures["disinfection.agent"][path] == 3
    keys = {t.key: t for t in registry.todos(world["property_a"])}
    assert keys["disinfection.overdue"].count == 1 and keys["disinfection.overdue"].overdue
    assert "disinfection.overdue" not in {t.key for t in registry.todos(world["property_b"])}


# --- Issue 19 item 5: stations no longer type in what the ledger derives -----------------------

def test_stations_are_no_longer_asked_for_the_supplies_figures_the_ledger_derives(cast):
    from fangkong.places.actions import create_organization
    from fangkong.reports import actions as reports

    station = create_organization(acting_user=None, kind="station", name="甲协调站", code="STA", place=cast.comm_a)
    assert not {"masks", "disinfectant", "thermometers", "suits"} & {d.key for d in reports.definitions_for(station)}
    assert {"masks", "disinfectant", "thermometers", "suits"} <= {d.key for d in reports.definitions_for(cast.org_x)}
    assert station not in reports.required_orgs() and cast.org_x in reports.required_orgs()
    # The station's figures come from the ledger instead (supplies' derived metric, by organization).
    holder = supplies.create_holder(acting_user=None, kind="station", organization=station)
    install(Item, Package)
    supplies.receive(acting_user=None, holder=holder, item=Item.objects.get(code="masks"), quantity=120)
    masks = next(m for m in registry.metrics() if m.key == "supplies.masks")
    assert dict(masks.by_org(timezone.localdate()))[station.pk] == 120


def test_a_fever_checked_at_a_real_gate_makes_a_case_round(world, cast, django_capture_on_commit_callbacks):
    """End to end: the guard's check-in with a fever (through the gates API, as the phone
    sends it) reaches the case listener through the clinic's alert, with no alert raised by hand."""
    from tests.test_gates import entry

    guard = Client()
    guard.force_login(cast.guard_a)
    with django_capture_on_commit_callbacks(execute=True):
        resp = guard.post("/api/gates/entries", json.dumps(entry(cast, temperature="38.9")), content_type="application/json")
    assert resp.status_code in (200, 201), resp.content
    r = Round.objects.get(kind="case")
    assert r.target.place.path.startswith(cast.comm_a.path) and r.state == "due"
    assert r.due_at > timezone.now()
