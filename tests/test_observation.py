"""Control measures (M5) through HTTP as their users drive them: the committee and the
medic, the grid worker, and the observed person on a phone by a personal link; then the
stored state. The clock is moved with `clock` (patches django.utils.timezone.now)."""
from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from fangkong.accounts.actions import issue_resident_link, revoke_resident_links
from fangkong.lib import registry
from fangkong.inflow.models import Application, Origin
from fangkong.observation import actions
from fangkong.observation.models import Alert, Observation, Report, Room, SupplyRequest
from fangkong.places.actions import create_organization
from tests.cast import add_person, make_id, make_phone

TZ = timezone.get_default_timezone()


@pytest.fixture(autouse=True)
def _policy_table(db):
    """The policy table the inflow migration ships (a transactional test's flush empties it)."""
    from fangkong.inflow.models import MeasurePolicy

    for risk, measure, days in (("high", "central_observation", 14), ("medium", "home_observation", 14),
                                ("low", "health_monitoring", 7), ("none", "none", 0)):
        MeasurePolicy.objects.get_or_create(risk=risk, defaults={"measure": measure, "days": days})


def at(y, m, d, hh=9, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=TZ)



@pytest.fixture
def alerts():
    """Every registry.Alert raised during the test."""
    seen: list[registry.Alert] = []
    sink = seen.append
    registry.register_alert_sink(sink)
    yield seen
    registry._SINKS.remove(sink)


def _pdf_text(data: bytes) -> str:
    import subprocess

    return subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def observe(cast, key="obs_p", seq=801, kind=Observation.Kind.HOME, days=14, household=None):
    person = add_person(cast, key, name="观察甲", seq=seq, household=household or cast.hh_a1)
    return actions.start(acting_user=None, person=person, kind=kind, days=days)


# --- The seed's case, end to end --------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_seed_case_inflow_to_release(clock, alerts):
    """Seed 000: on 18 March a unit's liaison applies for an employee returning from
    another province; the committee approves in under an hour; he arrives; 14 days of home
    observation with two reports a day (one window missed → alert; one fever → alert);
    the medic releases him when the period is over and the last reports are normal."""
    from tests.cast import build_cast

    cast = build_cast()
    origin = Origin.objects.create(name="河南省濮阳市", risk="medium")
    clock.set(at(2026, 3, 18, 9, 0))
    resp = as_user(cast.liaison_x).post("/inflow/apply/", {
        "name": "季师傅", "id_number": make_id(901), "phone": make_phone(901), "origin": origin.pk,
        "place": cast.compound_a1.pk, "address": "甲一小区5号楼302室", "purpose": "返岗", "transport": "自驾"})
    assert resp.status_code == 302
    app = Application.objects.get()
    clock.set(at(2026, 3, 18, 9, 5))
    assert as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/").status_code == 302
    clock.set(at(2026, 3, 18, 9, 48))
    assert as_user(cast.committee_a).post(f"/inflow/{app.pk}/approve/").status_code == 302
    app.refresh_from_db()
    assert app.decided_at - app.submitted_at < dt.timedelta(hours=1)
    assert as_user(cast.liaison_x).post(f"/inflow/{app.pk}/travel/", {"planned_arrival": "2026-03-18"}).status_code == 302
    clock.set(at(2026, 3, 18, 15, 30))
    assert as_user(cast.committee_a).post(f"/inflow/{app.pk}/arrive/", {"temperature": "36.4", "healthy": "1"}).status_code == 302

    obs = Observation.objects.get(application=app)
    assert obs.kind == "home_observation" and obs.state == "active"
    assert obs.start_date == dt.date(2026, 3, 18) and obs.planned_end == dt.date(2026, 4, 1)
    assert registry.health_flags([obs.person_id])[obs.person_id] == {registry.OBSERVATION}

    # The committee hands over the personal link; the person reports from a phone.
    page = as_user(cast.committee_a).post(f"/observation/{obs.pk}/link/")
    assert page.status_code == 200
    url = page.context["link_url"]
    from django.conf import settings

    assert url.startswith(settings.PUBLIC_URL + "/r/")  # the public address, whatever host the staff used
    path = url[len(settings.PUBLIC_URL):]
    phone = Client()
    assert "观察甲" not in phone.get(path).content.decode()  # the cast's names stay out
    assert "季师傅" in phone.get(path).content.decode()

    day = dt.date(2026, 3, 18)
    while day <= dt.date(2026, 4, 1):
        for hh, temp in ((8, "36.5"), (12, None), (17, "36.7"), (22, None)):
            clock.set(at(day.year, day.month, day.day, hh, 10))
            if temp is None:
                actions.check_missed()  # what the worker runs every 5 minutes
                continue
            if day == dt.date(2026, 3, 18) and hh == 8:
                continue  # not yet arrived
            if (day, hh) == (dt.date(2026, 3, 22), 8):
                continue  # the missed window
            if (day, hh) == (dt.date(2026, 3, 25), 17):
                temp = "38.2"  # the fever
            resp = phone.post(path + "report/", {"temperature": temp, "client_key": f"{day}-{hh}"})
            assert resp.status_code == 302, (day, hh, resp.content.decode()[:500])
        day += dt.timedelta(days=1)

    assert Report.objects.filter(observation=obs).count() == 14 * 2 + 1 - 1
    got = {(a.kind, a.day) for a in Alert.objects.filter(observation=obs)}
    assert got == {("missed", dt.date(2026, 3, 22)), ("fever", dt.date(2026, 3, 25))}
    mine = [a for a in alerts if a.kind.startswith("observation.")]  # (a fever also starts a disinfection case round)
    assert sorted(a.kind for a in mine) == ["observation.fever", "observation.missed"]
    assert all(a.perms == ("observation.alerted",) and a.place_path == obs.place_path for a in mine)
    assert all(make_id(901) not in a.text for a in alerts)

    # Release: refused while the fever alert is open, then allowed once it is handled.
    medic = as_user(cast.medic_a)
    resp = medic.post(f"/observation/{obs.pk}/release/", {"note": "期满"})
    assert resp.status_code == 409
    fever = Alert.objects.get(observation=obs, kind="fever")
    assert as_user(cast.worker_a1).post(f"/observation/{obs.pk}/handle/", {"alert": fever.pk, "note": "复测36.6"}).status_code == 302
    assert medic.post(f"/observation/{obs.pk}/release/", {"note": "期满，体温正常"}).status_code == 302
    obs.refresh_from_db()
    assert obs.state == "released" and obs.ended_at == at(2026, 4, 1, 22, 10)
    assert registry.health_flags([obs.person_id])[obs.person_id] == {registry.RELEASED}
    # The release notice: a PDF with the Chinese title, the masked ID and a serial.
    from fangkong.documents.models import Document

    notice = Document.objects.get(kind=Document.Kind.RELEASE)
    detail = medic.get(f"/observation/{obs.pk}/").content.decode()
    assert notice.serial in detail
    pdf = medic.get(f"/documents/{notice.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = _pdf_text(b"".join(pdf.streaming_content) if pdf.streaming else pdf.content)
    assert "解除医学观察通知书" in text and notice.serial in text and obs.person.id_masked in text and make_id(901) not in text
    assert as_user(cast.committee_b).get(f"/documents/{notice.pk}/pdf/").status_code == 404
    # Reports for a released person are refused and nothing is stored.
    clock.set(at(2026, 4, 2, 8, 0))
    assert phone.post(path + "report/", {"temperature": "36.5"}).status_code == 409
    assert Report.objects.filter(observation=obs).count() == 28
    metrics = {m.key: m for m in registry.metrics()}
    assert dict(metrics["observation.released"].counts(dt.date(2026, 4, 1))) == {cast.compound_a1.path: 1}
    assert dict(metrics["observation.active"].counts(dt.date(2026, 3, 30))) == {cast.compound_a1.path: 1}
    assert dict(metrics["observation.fevers"].counts(dt.date(2026, 3, 25))) == {cast.compound_a1.path: 1}


# --- Reports: bad input, windows, duplicates --------------------------------------------

@pytest.mark.django_db
def test_reports_are_checked_and_nothing_wrong_is_stored(cast, clock):
    clock.set(at(2026, 5, 1, 8, 0))
    obs = observe(cast)
    token = issue_resident_link(acting_user=None, person=obs.person)
    phone = Client()
    for bad in ("43.1", "33.9", "abc", "", "3 6.5"):
        resp = phone.post(f"/r/{token}/report/", {"temperature": bad})
        assert resp.status_code == 400, bad
        assert 'id="temperature-errors"' in resp.content.decode()
    clock.set(at(2026, 5, 1, 3, 0))  # outside every window
    resp = phone.post(f"/r/{token}/report/", {"temperature": "36.5"})
    assert resp.status_code == 400 and "06:00" in resp.content.decode()
    assert not Report.objects.exists()
    clock.set(at(2026, 5, 1, 8, 0))
    assert phone.post(f"/r/{token}/report/", {"temperature": "36,5", "client_key": "a"}).status_code == 302
    assert phone.post(f"/r/{token}/report/", {"temperature": "36.5", "client_key": "a"}).status_code == 302  # resent
    assert phone.post(f"/r/{token}/report/", {"temperature": "36.6", "client_key": "b"}).status_code == 409  # same window
    assert list(Report.objects.values_list("temperature", flat=True)) == [Decimal("36.5")]
    # A revoked link is a 404, like a wrong one.
    revoke_resident_links(acting_user=None, person=obs.person)
    assert phone.get(f"/r/{token}/").status_code == 404


@pytest.mark.django_db
def test_fever_threshold_and_symptoms_alert_by_api(cast, clock, alerts, settings, django_capture_on_commit_callbacks):
    settings.FEVER_THRESHOLD = Decimal("37.3")
    clock.set(at(2026, 5, 1, 8, 0))
    obs = observe(cast)
    token = issue_resident_link(acting_user=None, person=obs.person)
    api = Client()
    with django_capture_on_commit_callbacks(execute=True):  # alerts go out when the report commits
        resp = api.post("/api/resident/reports", {"temperature": 37.3, "symptoms": ["cough"], "client_key": "k1"},
                        content_type="application/json", headers={"X-Resident-Token": token})
    assert resp.status_code == 201 and resp.json()["fever"] is True
    assert sorted(Alert.objects.values_list("kind", flat=True)) == ["fever", "symptoms"]
    assert {a.kind for a in alerts} - {"disinfection.case"} == {"observation.fever", "observation.symptoms"}
    assert registry.FEVER in registry.health_flags([obs.person_id])[obs.person_id]
    again = api.post("/api/resident/reports", {"temperature": 37.3, "client_key": "k1"}, content_type="application/json",
                     headers={"X-Resident-Token": token})
    assert again.status_code == 200 and Report.objects.count() == 1
    bad = api.post("/api/resident/reports", {"temperature": 37.0, "symptoms": ["headache!"]}, content_type="application/json",
                   headers={"X-Resident-Token": token})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "symptoms"
    assert api.post("/api/resident/reports", {"temperature": 36.5}, content_type="application/json",
                    headers={"X-Resident-Token": "forged"}).status_code == 401
    # Staff (video check) in the afternoon window, through the API.
    clock.set(at(2026, 5, 1, 15, 0))
    staff = as_user(cast.worker_a1).post(f"/api/observations/{obs.pk}/reports", {"temperature": "36.6", "source": "video"},
                                         content_type="application/json")
    assert staff.status_code == 201 and staff.json()["source"] == "video"
    assert as_user(cast.worker_b1).post(f"/api/observations/{obs.pk}/reports", {"temperature": "36.6"},
                                        content_type="application/json").status_code == 404


@pytest.mark.django_db
def test_missed_windows_alert_once_and_not_before_the_start(cast, clock):
    clock.set(at(2026, 5, 1, 13, 0))  # started between the windows: the morning does not count
    obs = observe(cast)
    clock.set(at(2026, 5, 2, 13, 0))
    assert actions.check_missed() == 2  # 1 May afternoon, 2 May morning
    assert actions.check_missed() == 0
    assert sorted((a.day, a.window) for a in obs.alerts.all()) == [(dt.date(2026, 5, 1), 1), (dt.date(2026, 5, 2), 0)]
    board = as_user(cast.committee_a).get("/observation/?state=attention").content.decode()
    assert "观察甲" in board


# --- Staff actions: access, state machine, rooms ---------------------------------------

@pytest.mark.django_db
def test_staff_actions_roles_and_jurisdiction(cast, clock):
    clock.set(at(2026, 5, 1, 8, 0))
    obs = observe(cast)
    # Wrong role: 403. Other jurisdiction: 404. Nothing changes.
    assert as_user(cast.worker_a1).post(f"/observation/{obs.pk}/release/").status_code == 403
    assert as_user(cast.guard_a).post(f"/observation/{obs.pk}/report/", {"temperature": "36.5"}).status_code == 403
    assert as_user(cast.committee_b).post(f"/observation/{obs.pk}/extend/", {"days": "7", "note": "x"}).status_code == 404
    assert as_user(cast.worker_b1).get(f"/observation/{obs.pk}/").status_code == 404
    # Release before the end: 409 with the reason.
    resp = as_user(cast.medic_a).post(f"/observation/{obs.pk}/release/")
    assert resp.status_code == 409 and "2026-05-15" in resp.content.decode()
    # Extend needs days and a reason.
    assert as_user(cast.committee_a).post(f"/observation/{obs.pk}/extend/", {"days": "", "note": "复查"}).status_code == 400
    assert as_user(cast.committee_a).post(f"/observation/{obs.pk}/extend/", {"days": "7", "note": "复查"}).status_code == 302
    obs.refresh_from_db()
    assert obs.planned_end == dt.date(2026, 5, 22) and obs.version == 2
    # Transfer to hospital and back.
    assert as_user(cast.medic_a).post(f"/observation/{obs.pk}/transfer/", {"note": ""}).status_code == 400
    assert as_user(cast.medic_a).post(f"/observation/{obs.pk}/transfer/", {"note": "区人民医院"}).status_code == 302
    obs.refresh_from_db()
    assert obs.state == "hospital" and registry.health_flags([obs.person_id])[obs.person_id] == {registry.HOSPITAL}
    assert as_user(cast.medic_a).post(f"/observation/{obs.pk}/transfer/", {"note": "again"}).status_code == 409
    assert as_user(cast.medic_a).post(f"/observation/{obs.pk}/resume/").status_code == 302
    obs.refresh_from_db()
    assert obs.state == "active"
    # Psychological support flag; a second observation for the same person is refused.
    assert as_user(cast.committee_a).post(f"/observation/{obs.pk}/psych/", {"needed": "1"}).status_code == 302
    assert Observation.objects.get(pk=obs.pk).psych_support is True
    resp = as_user(cast.committee_a).post("/observation/new/", {"id_number": make_id(801), "kind": "home_observation", "days": "14"})
    assert resp.status_code == 409 and Observation.objects.count() == 1


@pytest.mark.django_db
def test_start_form_finds_the_person_in_scope_only(cast, clock):
    clock.set(at(2026, 5, 1, 8, 0))
    c = as_user(cast.committee_a)
    resp = c.post("/observation/new/", {"id_number": cast.ids["person_b1"], "kind": "home_observation", "days": "14"})
    assert resp.status_code == 400 and not Observation.objects.exists()  # community B's person: as if unknown
    resp = c.post("/observation/new/", {"id_number": "123", "kind": "home_observation", "days": "99"})
    body = resp.content.decode()
    assert resp.status_code == 400 and 'id="id_number-errors"' in body and 'id="days-errors"' in body
    resp = c.post("/observation/new/", {"id_number": cast.ids["person_a2"], "kind": "health_monitoring", "days": "7"})
    assert resp.status_code == 302
    obs = Observation.objects.get()
    assert obs.person == cast.person_a2 and obs.planned_end == dt.date(2026, 5, 8)
    assert registry.health_flags([cast.person_a2.pk])[cast.person_a2.pk] == {registry.HEALTH_MONITORING}


@pytest.mark.django_db
def test_central_observation_rooms_and_capacity(cast, clock):
    clock.set(at(2026, 5, 1, 8, 0))
    site = create_organization(acting_user=None, kind="site", name="集中观察点", code="SITE2", place=cast.street)
    assert as_user(cast.coordinator).post(f"/observation/sites/{site.pk}/rooms/", {"number": "101", "capacity": "1"}).status_code == 302
    assert as_user(cast.coordinator).post(f"/observation/sites/{site.pk}/rooms/", {"number": "101", "capacity": "1"}).status_code == 302
    assert Room.objects.count() == 1  # the duplicate was refused with a message
    assert as_user(cast.committee_a).post(f"/observation/sites/{site.pk}/rooms/", {"number": "102"}).status_code == 403
    room = Room.objects.get()
    one = observe(cast, "c1", 811, kind=Observation.Kind.CENTRAL)
    two = observe(cast, "c2", 812, kind=Observation.Kind.CENTRAL)
    sites_page = as_user(cast.coordinator).get("/observation/sites/").content.decode()
    assert "观察甲" in sites_page  # waiting for a room
    medic = as_user(cast.medic_a)
    assert medic.post(f"/observation/{one.pk}/room/", {"room": room.pk}).status_code == 302
    assert medic.post(f"/observation/{two.pk}/room/", {"room": room.pk}).status_code == 409
    one.refresh_from_db()
    two.refresh_from_db()
    assert one.room == room and one.site == site and two.room is None
    # Transfer frees the room; then the second person gets it.
    assert medic.post(f"/observation/{one.pk}/transfer/", {"note": "医院"}).status_code == 302
    assert Observation.objects.get(pk=one.pk).room is None
    assert medic.post(f"/observation/{two.pk}/room/", {"room": room.pk}).status_code == 302
    # The site's own medic (organization grant) sees the person observed there.
    from tests.test_inflow import cast_user_with_grant

    site_medic = cast_user_with_grant("site_medic", "medic", site)
    elsewhere = observe(cast, "c3", 813)
    assert as_user(site_medic).get(f"/observation/{two.pk}/").status_code == 200
    assert as_user(site_medic).get(f"/observation/{elsewhere.pk}/").status_code == 404


@pytest.mark.django_db
def test_supply_requests_from_the_phone_to_the_grid_worker(cast, clock):
    clock.set(at(2026, 5, 1, 10, 0))
    obs = observe(cast)
    token = issue_resident_link(acting_user=None, person=obs.person)
    phone = Client()
    assert phone.post(f"/r/{token}/request/", {"kind": "medicine", "text": ""}).status_code == 400
    assert phone.post(f"/r/{token}/request/", {"kind": "medicine", "text": "降压药一盒", "client_key": "r1"}).status_code == 302
    assert phone.post(f"/r/{token}/request/", {"kind": "medicine", "text": "降压药一盒", "client_key": "r1"}).status_code == 302
    req = SupplyRequest.objects.get()
    assert req.text == "降压药一盒"
    assert as_user(cast.worker_b1).post(f"/observation/{obs.pk}/deliver/", {"request": req.pk}).status_code == 404
    assert as_user(cast.worker_a1).post(f"/observation/{obs.pk}/deliver/", {"request": req.pk}).status_code == 302
    assert as_user(cast.worker_a1).post(f"/observation/{obs.pk}/deliver/", {"request": req.pk}).status_code == 409
    assert SupplyRequest.objects.get().state == "done"


@pytest.mark.django_db(transaction=True)
def test_two_arrival_registrations_one_wins_and_one_observation():
    from tests.cast import build_cast

    cast = build_cast()
    origin = Origin.objects.create(name="外省", risk="medium")
    now = timezone.now()
    app = Application.objects.create(
        serial="LR-ARR", person=cast.person_a2, household=cast.hh_a2, place=cast.grid_a2, place_path=cast.grid_a2.path,
        origin=origin, risk="medium", state=Application.State.TRAVELLING, submitted_at=now, planned_arrival=now.date())
    barrier = threading.Barrier(2)
    codes = []

    def go(user):
        c = as_user(user)
        barrier.wait()
        codes.append(c.post(f"/inflow/{app.pk}/arrive/", {"temperature": "36.5", "healthy": "1"}).status_code)
        connection.close()

    threads = [threading.Thread(target=go, args=(u,)) for u in (cast.committee_a, cast.committee_a)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [302, 409], codes
    assert Observation.objects.filter(person=cast.person_a2).count() == 1


@pytest.mark.django_db
def test_api_start_transitions_rooms_and_handling(cast, clock):
    clock.set(at(2026, 5, 1, 8, 0))
    medic = as_user(cast.medic_a)
    resp = medic.post("/api/observations", {"person_id": cast.person_a2.pk, "kind": "central_observation", "days": 14},
                      content_type="application/json")
    assert resp.status_code == 201 and resp.json()["kind"] == "central_observation"
    pk = resp.json()["id"]
    assert as_user(cast.committee_b).post("/api/observations", {"person_id": cast.person_a1.pk, "kind": "home_observation"},
                                          content_type="application/json").status_code == 422  # not in B's area
    assert medic.post("/api/observations", {"person_id": cast.person_a2.pk, "kind": "home_observation"},
                      content_type="application/json").status_code == 409  # already under a measure
    site = create_organization(acting_user=None, kind="site", name="观察点API", code="SITE-API", place=cast.street)
    room = actions.add_room(acting_user=None, site=site, number="201", capacity=1)
    assert medic.post(f"/api/observations/{pk}/room", {"room_id": room.pk}, content_type="application/json").json()["room"] == "201"
    ext = medic.post(f"/api/observations/{pk}/extend", {"days": 3, "note": "复查"}, content_type="application/json")
    assert ext.status_code == 200 and ext.json()["planned_end"] == "2026-05-18"
    assert as_user(cast.worker_a1).post(f"/api/observations/{pk}/release", {}, content_type="application/json").status_code == 403
    assert medic.post(f"/api/observations/{pk}/release", {}, content_type="application/json").status_code == 409
    token = issue_resident_link(acting_user=None, person=cast.person_a2)
    assert Client().post("/api/resident/requests", {"kind": "supplies", "text": "口罩"}, content_type="application/json",
                         headers={"X-Resident-Token": token}).status_code == 201
    req = SupplyRequest.objects.get()
    assert as_user(cast.worker_b1).post(f"/api/observations/{pk}/handle", {"request_id": req.pk},
                                        content_type="application/json").status_code == 404
    assert as_user(cast.worker_a1).post(f"/api/observations/{pk}/handle", {"request_id": req.pk},
                                        content_type="application/json").status_code == 404  # grid A1, the person is in A2
    assert as_user(cast.committee_a).post(f"/api/observations/{pk}/handle", {"request_id": req.pk},
                                          content_type="application/json").json() == {"ok": True}
    assert SupplyRequest.objects.get().state == "done"


@pytest.mark.django_db
def test_release_needs_the_last_days_reports_and_rooms_stay_at_the_site(cast, clock):
    clock.set(at(2026, 5, 1, 5, 0))
    obs = observe(cast, days=1)  # planned end 2 May
    for hh in (8, 15):
        clock.set(at(2026, 5, 1, hh, 0))
        actions.report(acting_user=None, observation=obs, temperature="36.5", source="self")
    clock.set(at(2026, 5, 2, 22, 0))  # the last day is over and nobody reported on it
    medic = as_user(cast.medic_a)
    resp = medic.post(f"/observation/{obs.pk}/release/")
    assert resp.status_code == 409 and Observation.objects.get(pk=obs.pk).state == "active"
    clock.set(at(2026, 5, 2, 9, 0))  # the last day's windows are still open: the day before counts
    medic = as_user(cast.medic_a)
    assert medic.post(f"/observation/{obs.pk}/release/").status_code == 302

    one = create_organization(acting_user=None, kind="site", name="一号观察点", code="S-ONE", place=cast.street)
    two = create_organization(acting_user=None, kind="site", name="二号观察点", code="S-TWO", place=cast.street)
    r1 = actions.add_room(acting_user=None, site=one, number="101", capacity=2)
    r2 = actions.add_room(acting_user=None, site=two, number="201", capacity=2)
    central = observe(cast, "c9", 819, kind=Observation.Kind.CENTRAL)
    assert medic.post(f"/observation/{central.pk}/room/", {"room": r1.pk}).status_code == 302
    assert medic.post(f"/observation/{central.pk}/room/", {"room": r2.pk}).status_code == 400  # another site
    assert medic.post(f"/observation/{central.pk}/room/", {"room": "²"}).status_code == 400  # not a number: no 500
    assert Observation.objects.get(pk=central.pk).room == r1


@pytest.mark.django_db
def test_device_keys_of_two_people_never_collide(cast, clock):
    clock.set(at(2026, 5, 1, 8, 0))
    one, two = observe(cast, "k1", 831), observe(cast, "k2", 832)
    api = Client()
    for obs in (one, two):
        token = issue_resident_link(acting_user=None, person=obs.person)
        resp = api.post("/api/resident/reports", {"temperature": 36.5, "client_key": "same-key-" + "x" * 200},
                        content_type="application/json", headers={"X-Resident-Token": token})
        assert resp.status_code == 201, resp.content
    assert Report.objects.filter(observation__in=[one, two]).count() == 2
