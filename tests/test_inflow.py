"""The inflow closed loop (M4) through HTTP, as its users drive it: the unit liaison, the
coordination department, the destination committee; then the stored state."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.lib import registry
from fangkong.inflow.models import Application, Event, Origin
from fangkong.residents.models import Person
from tests.cast import make_id, make_phone

S = Application.State


@pytest.fixture
def origins(db):
    return {
        "medium": Origin.objects.create(name="湖北省武汉市", risk="medium"),
        "high": Origin.objects.create(name="某高风险区", risk="high"),
        "none": Origin.objects.create(name="本省", risk="none"),
    }


def apply_form(cast, origin, seq=501, name="返岗甲", place=None, address="甲一小区2号楼201室", key=""):
    return {"name": name, "id_number": make_id(seq), "phone": make_phone(seq), "origin": origin.pk,
            "place": (place or cast.compound_a1).pk, "address": address, "purpose": "返岗", "transport": "自驾",
            "client_key": key}


def submit(login, cast, origin, **kw):
    resp = login(cast.liaison_x).post("/inflow/apply/", apply_form(cast, origin, **kw))
    assert resp.status_code == 302, resp.content.decode()[:2000]
    return Application.objects.get(pk=int(resp["Location"].rstrip("/").rsplit("/", 1)[1]))


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.mark.django_db
def test_seed_case_end_to_end(cast, login, origins):
    """Seed 000: a unit applies for an employee returning from another province; the
    coordination department forwards; the committee approves within the hour; the unit
    marks the person travelling; the committee registers the arrival; home observation
    for 14 days starts."""
    app = submit(login, cast, origins["medium"])
    assert app.state == S.SUBMITTED and app.employer == cast.org_x and app.place == cast.compound_a1
    person = app.person
    assert person.name == "返岗甲" and person.employer == cast.org_x and person.household.address == "甲一小区2号楼201室"
    assert make_id(501) not in Person.objects.filter(pk=person.pk).values_list("id_masked", flat=True)[0]
    assert app.serial.startswith("LR") and app.serial.endswith(f"{app.pk:06d}")

    assert as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/").status_code == 302
    app.refresh_from_db()
    assert app.state == S.FORWARDED and app.review_due_at - app.forwarded_at == dt.timedelta(hours=1)

    # The committee's queue shows it; one click approves.
    queue = as_user(cast.committee_a).get("/inflow/?state=queue")
    assert app.serial in queue.content.decode()
    assert as_user(cast.committee_a).post(f"/inflow/{app.pk}/approve/", {"next": "queue"}).status_code == 302
    app.refresh_from_db()
    assert app.state == S.APPROVED and app.decided_at <= app.review_due_at and app.pushed_at == app.decided_at

    arrival = timezone.localdate() + dt.timedelta(days=1)
    assert as_user(cast.liaison_x).post(f"/inflow/{app.pk}/travel/", {"planned_arrival": arrival.isoformat()}).status_code == 302
    app.refresh_from_db()
    assert app.state == S.TRAVELLING and app.planned_arrival == arrival

    resp = as_user(cast.committee_a).post(f"/inflow/{app.pk}/arrive/", {"temperature": "36.5", "healthy": "1"})
    assert resp.status_code == 302
    app.refresh_from_db()
    today = timezone.localdate()
    assert app.state == S.ARRIVED and str(app.arrival_temperature) == "36.5" and app.arrival_healthy is True
    assert app.measure == "home_observation" and app.measure_start == today and app.measure_end == today + dt.timedelta(days=14)

    assert list(Event.objects.filter(application=app).values_list("action", flat=True)) == [
        "apply", "forward", "approve", "push", "travel", "arrive"]
    actors = dict(Event.objects.filter(application=app).values_list("action", "actor__username"))
    assert actors == {"apply": "liaison_x", "forward": "coordinator", "approve": "committee_a", "push": None,
                      "travel": "liaison_x", "arrive": "committee_a"}
    actions = set(AuditEvent.objects.filter(object_type="Application", object_id=str(app.pk)).values_list("action", flat=True))
    assert {"inflow.apply", "inflow.forward", "inflow.approve", "inflow.travel", "inflow.arrive"} <= actions

    # The rest of the platform learns of it: health flags and the daily figures.
    assert registry.health_flags([person.pk])[person.pk] == {registry.OBSERVATION}
    metrics = {m.key: m for m in registry.metrics()}
    assert dict(metrics["inflow.arrived"].counts(today)) == {cast.compound_a1.path: 1}
    assert dict(metrics["inflow.applied"].by_org(today)) == {cast.org_x.pk: 1}
    # The measure is an observation of the person (fangkong.observation), counted there.
    assert person.observations.get().application == app
    assert dict(metrics["observation.active"].counts(today)) == {cast.compound_a1.path: 1}
    assert dict(metrics["observation.new"].counts(today)) == {cast.compound_a1.path: 1}


@pytest.mark.django_db
def test_high_risk_origin_means_central_observation(cast, login, origins):
    app = submit(login, cast, origins["high"], seq=502)
    for user, step, data in ((cast.coordinator, "forward", {}), (cast.committee_a, "approve", {}),
                             (cast.liaison_x, "travel", {"planned_arrival": timezone.localdate().isoformat()}),
                             (cast.worker_a1, "arrive", {"temperature": "36.8", "healthy": "1"})):
        assert as_user(user).post(f"/inflow/{app.pk}/{step}/", data).status_code == 302, step
    app.refresh_from_db()
    assert app.measure == "central_observation"
    assert registry.health_flags([app.person_id])[app.person_id] == {registry.OBSERVATION, registry.CENTRAL_OBSERVATION}


@pytest.mark.django_db
def test_wrong_role_403_other_jurisdiction_404(cast, login, origins):
    app = submit(login, cast, origins["medium"], seq=503)
    # Roles without the link's permission: 403.
    assert as_user(cast.guard_a).post(f"/inflow/{app.pk}/forward/").status_code == 403
    assert as_user(cast.committee_a).post(f"/inflow/{app.pk}/forward/").status_code == 403
    assert as_user(cast.liaison_x).post(f"/inflow/{app.pk}/approve/").status_code == 403
    assert as_user(cast.medic_a).post(f"/inflow/{app.pk}/arrive/").status_code == 403
    as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/")
    # The other community's committee and grid worker: 404, as if it did not exist.
    assert as_user(cast.committee_b).post(f"/inflow/{app.pk}/approve/").status_code == 404
    assert as_user(cast.committee_b).get(f"/inflow/{app.pk}/").status_code == 404
    assert as_user(cast.worker_b1).get(f"/inflow/{app.pk}/").status_code == 404
    app.refresh_from_db()
    assert app.state == S.FORWARDED and app.version == 2


@pytest.mark.django_db
def test_liaison_sees_only_its_own_units_applications(cast, login, origins):
    mine = submit(login, cast, origins["medium"], seq=504)
    liaison_y = cast_user_with_grant("liaison_y", "unit_liaison", cast.org_y)
    c = as_user(liaison_y)
    resp = c.post("/inflow/apply/", apply_form(cast, origins["medium"], seq=505, name="返岗乙", place=cast.grid_b1, address="乙一网格9号"))
    theirs = Application.objects.get(pk=int(resp["Location"].rstrip("/").rsplit("/", 1)[1]))
    assert theirs.employer == cast.org_y
    board = as_user(cast.liaison_x).get("/inflow/?state=all").content.decode()
    assert mine.serial in board and theirs.serial not in board and "返岗乙" not in board
    assert as_user(cast.liaison_x).get(f"/inflow/{theirs.pk}/").status_code == 404
    assert as_user(cast.liaison_x).post(f"/inflow/{theirs.pk}/travel/", {"planned_arrival": "2030-01-01"}).status_code == 404


def cast_user_with_grant(username, role, target):
    from fangkong.accounts.actions import add_grant
    from tests.cast import make_user

    user = make_user(username)
    add_grant(acting_user=None, user=user, role=role, target=target)
    return user


@pytest.mark.django_db
def test_conflicts(cast, login, origins):
    app = submit(login, cast, origins["medium"], seq=507)
    before = Application.objects.filter(pk=app.pk).values().get()
    resp = as_user(cast.committee_a).post(f"/inflow/{app.pk}/approve/")
    assert resp.status_code == 409
    assert "已提交" in resp.content.decode() or "Submitted" in resp.content.decode()
    assert Application.objects.filter(pk=app.pk).values().get() == before
    assert as_user(cast.committee_a).post(f"/inflow/{app.pk}/arrive/", {"temperature": "36.5", "healthy": "1"}).status_code == 409
    api = as_user(cast.committee_a)
    resp = api.post(f"/api/inflow/{app.pk}/approve", data={}, content_type="application/json")
    assert resp.status_code == 409 and resp.json()["detail"]
    assert Application.objects.filter(pk=app.pk).values().get() == before


@pytest.mark.django_db
def test_reject_needs_a_reason_and_more_info_goes_back_to_the_unit(cast, login, origins):
    app = submit(login, cast, origins["medium"], seq=508)
    as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/")
    assert as_user(cast.committee_a).post(f"/inflow/{app.pk}/reject/", {"reason": ""}).status_code == 400
    app.refresh_from_db()
    assert app.state == S.FORWARDED
    assert as_user(cast.committee_a).post(f"/inflow/{app.pk}/request-info/", {"reason": "请补充行程"}).status_code == 302
    app.refresh_from_db()
    assert app.state == S.MORE_INFO and app.decision_reason == "请补充行程"
    assert "请补充行程" in as_user(cast.liaison_x).get(f"/inflow/{app.pk}/").content.decode()
    assert as_user(cast.liaison_x).post(f"/inflow/{app.pk}/resubmit/").status_code == 302
    app.refresh_from_db()
    assert app.state == S.SUBMITTED and app.decided_at is None
    as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/")
    assert as_user(cast.committee_a).post(f"/inflow/{app.pk}/reject/", {"reason": "来自高风险地区"}).status_code == 302
    app.refresh_from_db()
    assert app.state == S.REJECTED and app.decision_reason == "来自高风险地区"


@pytest.mark.django_db
def test_arrival_temperature_and_dates_are_checked(cast, login, origins):
    app = submit(login, cast, origins["medium"], seq=509)
    as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/")
    as_user(cast.committee_a).post(f"/inflow/{app.pk}/approve/")
    past = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    assert as_user(cast.liaison_x).post(f"/inflow/{app.pk}/travel/", {"planned_arrival": past}).status_code == 400
    assert as_user(cast.liaison_x).post(f"/inflow/{app.pk}/travel/", {"planned_arrival": "不是日期"}).status_code == 400
    as_user(cast.liaison_x).post(f"/inflow/{app.pk}/travel/", {"planned_arrival": timezone.localdate().isoformat()})
    for temp in ("45", "33.9", "abc", ""):
        resp = as_user(cast.committee_a).post(f"/inflow/{app.pk}/arrive/", {"temperature": temp, "healthy": "1"})
        assert resp.status_code == 400, temp
    assert as_user(cast.committee_a).post(f"/inflow/{app.pk}/arrive/", {"temperature": "36.6"}).status_code == 400
    app.refresh_from_db()
    assert app.state == S.TRAVELLING and app.arrival_temperature is None and app.measure == ""


@pytest.mark.django_db
def test_bad_application_form_shows_field_errors_and_stores_nothing(cast, login, origins):
    data = apply_form(cast, origins["medium"], seq=510)
    data["id_number"] = data["id_number"][:-1] + ("0" if data["id_number"][-1] != "0" else "1")
    data["address"] = ""
    resp = login(cast.liaison_x).post("/inflow/apply/", data)
    assert resp.status_code == 400
    body = resp.content.decode()
    assert 'id="id_number-errors"' in body and 'id="address-errors"' in body
    assert not Application.objects.exists() and not Person.objects.filter(name="返岗甲").exists()


@pytest.mark.django_db
def test_double_submitted_form_creates_one_application(cast, login, origins):
    data = apply_form(cast, origins["medium"], seq=511, key="k-511")
    c = login(cast.liaison_x)
    first = c.post("/inflow/apply/", data)
    second = c.post("/inflow/apply/", data)
    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"]
    assert Application.objects.count() == 1
    # A new form for the same person while that one is open: refused with a reason.
    data["client_key"] = "k-512"
    resp = c.post("/inflow/apply/", data)
    assert resp.status_code == 409 and Application.objects.count() == 1


@pytest.mark.django_db
def test_api_apply_idempotent_and_transitions(cast, origins):
    c = as_user(cast.liaison_x)
    payload = {"name": "返岗丙", "id_number": make_id(513), "phone": make_phone(513), "origin_id": origins["none"].pk,
               "place_id": cast.grid_a2.pk, "address": "甲二网格10号", "client_key": "api-513"}
    first = c.post("/api/inflow", data=payload, content_type="application/json")
    again = c.post("/api/inflow", data=payload, content_type="application/json")
    assert first.status_code == 201 and again.status_code == 200 and first.json()["id"] == again.json()["id"]
    pk = first.json()["id"]
    assert first.json()["id_masked"] != make_id(513) and make_id(513) not in first.content.decode()
    bad = c.post("/api/inflow", data={**payload, "client_key": "", "id_number": "123"}, content_type="application/json")
    assert bad.status_code == 422 and any(d["field"] == "id_number" for d in bad.json()["detail"])
    assert as_user(cast.coordinator).post(f"/api/inflow/{pk}/forward", data={}, content_type="application/json").status_code == 200
    assert as_user(cast.committee_b).post(f"/api/inflow/{pk}/approve", data={}, content_type="application/json").status_code == 404
    ok = as_user(cast.committee_a).post(f"/api/inflow/{pk}/approve", data={}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["state"] == "approved"
    listed = as_user(cast.liaison_x).get("/api/inflow?state=all").json()
    assert [a["id"] for a in listed] == [pk]
    assert as_user(cast.guard_a).get("/api/inflow").status_code == 403


@pytest.mark.django_db
def test_overdue_applications_come_first(cast, login, origins):
    late = submit(login, cast, origins["medium"], seq=514, name="迟审甲")
    fresh = submit(login, cast, origins["medium"], seq=515, name="新审乙")
    for app in (fresh, late):
        as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/")
    past = timezone.now() - dt.timedelta(minutes=5)
    Application.objects.filter(pk=late.pk).update(review_due_at=past, due_at=past)  # due_at: the current link's deadline
    body = as_user(cast.coordinator).get("/inflow/").content.decode()
    assert body.index(late.serial) < body.index(fresh.serial)
    overdue = as_user(cast.coordinator).get("/inflow/?state=overdue").content.decode()
    assert late.serial in overdue and fresh.serial not in overdue


@pytest.mark.django_db(transaction=True)
def test_concurrent_approve_and_reject_one_wins(origins):
    from tests.cast import build_cast

    cast = build_cast()
    app = Application.objects.create(
        serial="LR-CONC", person=cast.person_a1, employer=cast.org_x, household=cast.hh_a1, place=cast.hh_a1.place,
        place_path=cast.hh_a1.place_path, origin=origins["medium"], risk="medium", state=S.FORWARDED,
        submitted_at=timezone.now(), forwarded_at=timezone.now(), review_due_at=timezone.now())
    barrier = threading.Barrier(2)
    codes = {}

    def go(name, data):
        c = as_user(cast.committee_a)
        barrier.wait()
        codes[name] = c.post(f"/inflow/{app.pk}/{name}/", data).status_code
        connection.close()

    threads = [threading.Thread(target=go, args=("approve", {})), threading.Thread(target=go, args=("reject", {"reason": "不符合"}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes.values()) == [302, 409], codes
    app.refresh_from_db()
    winner = "approve" if codes["approve"] == 302 else "reject"
    assert app.state == (S.APPROVED if winner == "approve" else S.REJECTED) and app.version == 2
    assert list(Event.objects.filter(application=app).values_list("action", flat=True)) == [winner, "push"]


@pytest.mark.django_db
def test_each_link_reaches_the_next_partys_inbox(cast, login, origins):
    """Link 1 → the coordination department; link 2 → the destination committee (not the
    other community's); link 4 → the unit's liaison, whose inbox page shows it."""
    from fangkong.notify.models import Recipient

    def inbox(user, kind):
        return Recipient.objects.filter(user=user, message__kind=kind).count()

    app = submit(login, cast, origins["medium"], seq=520)
    assert inbox(cast.coordinator, "inflow.submitted") == 1 and inbox(cast.committee_a, "inflow.submitted") == 0
    as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/")
    assert inbox(cast.committee_a, "inflow.forwarded") == 1 and inbox(cast.committee_b, "inflow.forwarded") == 0
    as_user(cast.committee_a).post(f"/inflow/{app.pk}/request-info/", {"reason": "请补充行程"})
    assert inbox(cast.liaison_x, "inflow.request_info") == 1
    page = as_user(cast.liaison_x).get("/inbox/").content.decode()
    assert app.serial in page and make_id(520) not in page


@pytest.mark.django_db
def test_auto_route_sends_applications_straight_to_the_destination_committee(cast, login, origins, settings):
    """Link 2 configurable: with FANGKONG_INFLOW_AUTO_ROUTE the application skips the
    coordination department and lands in the destination committee's queue at once."""
    from fangkong.notify.models import Recipient

    settings.INFLOW_AUTO_ROUTE = True
    app = submit(login, cast, origins["medium"], seq=530)
    assert app.state == S.FORWARDED and app.forwarded_at == app.submitted_at
    assert app.review_due_at - app.forwarded_at == dt.timedelta(hours=1)
    assert list(app.events.values_list("action", "actor")) == [("apply", cast.liaison_x.pk), ("forward", None)]
    assert app.serial in as_user(cast.committee_a).get("/inflow/?state=queue").content.decode()
    assert app.serial not in as_user(cast.committee_b).get("/inflow/?state=all").content.decode()
    assert Recipient.objects.filter(user=cast.committee_a, message__kind="inflow.forwarded").count() == 1
    assert as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/").status_code == 409


@pytest.mark.django_db
def test_an_id_number_reveals_no_registered_name_or_employer(cast, login, origins):
    """Typing the ID number of a person outside the applicant's scope (another unit's
    staff, a resident of no unit) gets the same answer as a new number: the application,
    with the name as typed; the registry's name never shows and the person is not taken
    (a transfer request goes to their committee: tests/test_transfers.py)."""
    c = login(cast.liaison_x)
    for name, seq_person in (("冒名者", "person_a2"), ("靶子丙", "person_b1")):  # wrong name; right name but unit Y's staff
        data = apply_form(cast, origins["medium"], name=name)
        data["id_number"] = cast.ids[seq_person]
        resp = c.post("/inflow/apply/", data)
        assert resp.status_code == 302
        body = c.get(resp["Location"]).content.decode()
        assert name in body and "靶子乙" not in body.replace(name, "") and "单位Y" not in body
        app = Application.objects.get(pk=int(resp["Location"].rstrip("/").rsplit("/", 1)[1]))
        assert app.person_id is None and app.transfer.person == getattr(cast, seq_person)
    assert not Application.objects.filter(person__isnull=False).exists()


@pytest.mark.django_db
def test_a_phone_in_the_address_is_refused(cast, login, origins):
    c = login(cast.liaison_x)
    # A phone typed into the address is refused (it would be printed on the notice).
    data = apply_form(cast, origins["medium"], seq=540, address="甲一小区3号楼 联系13912345678")
    resp = c.post("/inflow/apply/", data)
    assert resp.status_code == 400 and 'id="address-errors"' in resp.content.decode() and not Application.objects.exists()
