"""Work resumption (M9) through HTTP as its parties drive it, then the stored state: the
liaison of unit X (its enterprise placed in compound A1Y), the committee of community A,
the grid worker of grid A1, the medic, the street's coordinator. The clock is moved with
`clock` (patches django.utils.timezone.now)."""
from __future__ import annotations

import datetime as dt
import io
import threading
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from fangkong.documents.models import Document
from fangkong.inflow.models import Origin
from fangkong.observation.models import Observation, Report
from fangkong.resumption import actions
from fangkong.resumption.models import Application, CheckAnswer, Enterprise, Problem, SiteCheck, StaffRecord
from fangkong.uploads.models import Attachment
from tests.cast import make_id, make_user

TZ = timezone.get_default_timezone()
S = Application.State
ITEMS = [k for k, _l, _q in __import__("fangkong.resumption.models", fromlist=["STANDARD_ITEMS"]).STANDARD_ITEMS]
QTY = {"masks", "disinfectant", "thermometers"}


def at(y, m, d, hh=9, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=TZ)



@pytest.fixture(autouse=True)
def _policy_table(db):
    from fangkong.inflow.models import MeasurePolicy

    for risk, measure, days in (("high", "central_observation", 14), ("medium", "home_observation", 14),
                                ("low", "health_monitoring", 7), ("none", "none", 0)):
        MeasurePolicy.objects.get_or_create(risk=risk, defaults={"measure": measure, "days": days})


def origin(name, risk):
    o, _ = Origin.objects.get_or_create(name=f"{name}·测", defaults={"risk": risk})
    return o


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def ent(cast):
    return actions.register_enterprise(acting_user=cast.committee_a, name="", code="", place=cast.compound_a1,
                                       organization=cast.org_x, priority="key", size=40, officer_name="王专员")


def all_pass(**over) -> dict:
    data = {}
    for k in ITEMS:
        data[f"result_{k}"] = "pass"
        if k in QTY:
            data[f"quantity_{k}"] = "100"
    data.update(over)
    return data


def png_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 20, 20)).save(buf, "PNG")
    return buf.getvalue()


def _apply(cast, ent, when: dt.date) -> Application:
    r = as_user(cast.liaison_x).post(f"/resumption/enterprises/{ent.pk}/apply/", {
        "planned_date": when.isoformat(), "headcount": "12", "measures": "每日消毒，分餐"})
    assert r.status_code == 302, r.content.decode()[:500]
    return Application.objects.get(enterprise=ent, state=S.SUBMITTED)


# --- The seed's story, end to end -------------------------------------------------------------

@pytest.mark.django_db
def test_the_seeds_story_end_to_end(cast, ent, clock):
    """A firm applies, is returned with two problems, answers them, is checked on site and
    approved the same day, posts its notice; three workers back from outside the province
    10 days ago go into home observation and are reported twice a day; a grid inspection a
    week later fails one item, which is fixed before its deadline."""
    clock.set(at(2026, 2, 17, 9, 5))
    day = timezone.localdate()
    app = _apply(cast, ent, day + dt.timedelta(days=1))
    assert app.due_at == at(2026, 2, 17, 18, 0)  # 日结日清: before 16:00 → by 18:00
    from fangkong.lib import registry

    todo = {t.key: t for t in registry.todos(cast.committee_a)}["resumption.review"]
    assert todo.count == 1 and todo.due == app.due_at
    committee, worker, liaison = as_user(cast.committee_a), as_user(cast.worker_a1), as_user(cast.liaison_x)

    clock.set(at(2026, 2, 17, 9, 30))
    assert committee.post(f"/resumption/{app.pk}/review/").status_code == 302
    r = committee.post(f"/resumption/{app.pk}/return/", {"problems": "缺少消毒记录表\n未明确食堂分餐方案"})
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.state == S.RETURNED and app.problems.filter(state="open").count() == 2
    # The liaison sees them in its portal and cannot resubmit before answering both.
    assert "缺少消毒记录表" in liaison.get("/resumption/portal/").content.decode()
    assert liaison.post(f"/resumption/{app.pk}/resubmit/").status_code == 409
    for p in app.problems.all():
        assert liaison.post(f"/resumption/problems/{p.pk}/answer/", {"answer": "已补充", "next": "portal"}).status_code == 302
    clock.set(at(2026, 2, 17, 11, 0))
    assert liaison.post(f"/resumption/{app.pk}/resubmit/").status_code == 302
    app.refresh_from_db()
    assert app.state == S.REVIEW
    # The committee closes the answered problems at the morning meeting page.
    page = committee.get("/resumption/problems/").content.decode()
    assert "已补充" in page
    for p in app.problems.all():
        assert committee.post(f"/resumption/problems/{p.pk}/close/").status_code == 302
    assert committee.post(f"/resumption/{app.pk}/assign/", {"checkers": [cast.worker_a1.pk],
                                                            "check_date": day.isoformat()}).status_code == 302
    check = SiteCheck.objects.get(application=app)
    assert worker.get("/resumption/checks/").content.decode().count(ent.name) == 1

    clock.set(at(2026, 2, 17, 14, 0))
    data = all_pass()
    data["photo_masks"] = io.BytesIO(png_bytes())
    data["photo_masks"].name = "masks.png"
    r = worker.post(f"/resumption/checks/{check.pk}/finish/", data)
    assert r.status_code == 302, r.content.decode()[:800]
    app.refresh_from_db()
    assert app.state == S.APPROVED and app.decided_at.date() == day  # approved the same day
    assert Attachment.objects.filter(owner_type="resumption.checkanswer").count() == 1
    notice = Document.objects.get(kind="resumption_approval", subject_id=app.pk)
    assert notice.serial and app.enterprise.name in notice.body
    detail = liaison.get(f"/resumption/{app.pk}/").content.decode()
    assert notice.serial in detail  # the liaison downloads and posts it on its gate
    from django.urls import reverse

    assert notice.serial in Client().get(reverse("document_verify", args=[notice.code])).content.decode()
    pdf = liaison.get(reverse("document_pdf", args=[notice.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert as_user(cast.committee_b).get(reverse("document_pdf", args=[notice.pk])).status_code in (403, 404)

    # Restart confirmed by the liaison.
    clock.set(at(2026, 2, 18, 8, 0))
    committee, worker, liaison = as_user(cast.committee_a), as_user(cast.worker_a1), as_user(cast.liaison_x)
    assert liaison.post(f"/resumption/{app.pk}/resume/", {"restart_date": "2026-02-18"}).status_code == 302
    app.refresh_from_db()
    assert app.state == S.RESUMED and app.resumed_on == dt.date(2026, 2, 18)

    # Three workers back from outside the province 10 days ago: home observation, started
    # through the observation module from their return date.
    henan = origin("河南省", "medium")
    back = dt.date(2026, 2, 8)
    for n in range(3):
        r = liaison.post(f"/resumption/enterprises/{ent.pk}/staff/", {
            "name": "返岗" + "甲乙丙"[n], "id_number": make_id(600 + n), "phone": "", "origin": henan.pk,
            "return_date": back.isoformat(), "address": "宿舍1号"})
        assert r.status_code == 302, [l for l in r.content.decode().splitlines() if "error" in l]
    staff = list(StaffRecord.objects.filter(enterprise=ent))
    assert len(staff) == 3 and all(s.health == "isolated" for s in staff)
    obs = Observation.objects.filter(pk__in=[s.observation_id for s in staff])
    assert obs.count() == 3 and {o.kind for o in obs} == {"home_observation"}
    assert {o.planned_end for o in obs} == {back + dt.timedelta(days=14)}
    # Twice a day, in the observation module's windows.
    for hh in (8, 15):
        clock.set(at(2026, 2, 18, hh, 30))
        for s in staff:
            assert liaison.post(f"/resumption/staff/{s.pk}/report/", {"temperature": "36.5"}).status_code == 302
    assert Report.objects.filter(observation__in=obs, day=dt.date(2026, 2, 18)).count() == 6
    # Outside a window: a clear refusal naming the field, nothing stored.
    clock.set(at(2026, 2, 18, 13, 0))
    assert liaison.post(f"/resumption/staff/{staff[0].pk}/report/", {"temperature": "36.5"}).status_code == 400

    # A week later: a grid inspection fails one item; fixed before the deadline.
    clock.set(at(2026, 2, 25, 10, 0))
    committee, worker, liaison = as_user(cast.committee_a), as_user(cast.worker_a1), as_user(cast.liaison_x)
    assert actions.schedule_inspections() == 1  # key enterprise: every 7 days
    insp = SiteCheck.objects.get(kind="supervision", enterprise=ent)
    assert cast.worker_a1 in insp.assignees.all()
    r = worker.post(f"/resumption/checks/{insp.pk}/finish/", all_pass(result_canteen="fail", note_canteen="未错峰就餐"))
    assert r.status_code == 302
    insp.refresh_from_db()
    assert insp.state == "failed"
    problem = Problem.objects.get(check_run=insp)
    assert problem.due_date == dt.date(2026, 2, 28)
    app.refresh_from_db()
    assert app.state == S.RESUMED  # one failure does not suspend
    clock.set(at(2026, 2, 26, 10, 0))
    committee, liaison = as_user(cast.committee_a), as_user(cast.liaison_x)
    assert liaison.post(f"/resumption/problems/{problem.pk}/answer/", {"answer": "已安排三批错峰就餐"}).status_code == 302
    assert committee.post(f"/resumption/problems/{problem.pk}/close/").status_code == 302
    problem.refresh_from_db()
    assert problem.state == "closed" and problem.closed_at.date() <= problem.due_date


# --- State machine and refusals -------------------------------------------------------------------

@pytest.mark.django_db
def test_transitions_not_allowed_are_409_with_the_reason(cast, ent, clock):
    clock.set(at(2026, 3, 2, 17, 0))
    app = _apply(cast, ent, dt.date(2026, 3, 4))
    assert app.due_at == at(2026, 3, 3, 12, 0)  # after 16:00 → noon the next day
    committee = as_user(cast.committee_a)
    r = committee.post(f"/resumption/{app.pk}/assign/", {"checkers": [cast.worker_a1.pk], "check_date": "2026-03-03"})
    assert r.status_code == 409 and ("Submitted" in r.content.decode() or "已提交" in r.content.decode())
    api = as_user(cast.liaison_x)
    r = api.post(f"/api/resumption/{app.pk}/resume", "{}", content_type="application/json")
    assert r.status_code == 409
    # The liaison withdraws before a decision; nothing more can be done.
    assert api.post(f"/resumption/{app.pk}/withdraw/").status_code == 302
    assert committee.post(f"/resumption/{app.pk}/review/").status_code == 409
    app.refresh_from_db()
    assert app.state == S.WITHDRAWN


@pytest.mark.django_db
def test_bad_input_names_the_field_and_stores_nothing(cast, ent, clock):
    clock.set(at(2026, 3, 2, 9, 0))
    liaison = as_user(cast.liaison_x)
    r = liaison.post("/api/resumption", {"enterprise_id": ent.pk, "planned_date": "2026-03-01"}, content_type="application/json")
    assert r.status_code == 422 and "planned_date" in r.content.decode()
    assert not Application.objects.exists()
    # Staff: unknown origin, return date in the future.
    r = liaison.post(f"/api/resumption/enterprises/{ent.pk}/staff", {"name": "张三", "id_number": make_id(650), "origin_id": 99999,
                                                                      "return_date": "2026-03-01"}, content_type="application/json")
    assert r.status_code == 422 and "origin_id" in r.content.decode()
    org = origin("湖北省", "high")
    r = liaison.post(f"/api/resumption/enterprises/{ent.pk}/staff", {"name": "张三", "id_number": make_id(650),
                                                                      "origin_id": org.pk, "return_date": "2026-03-09"},
                     content_type="application/json")
    assert r.status_code == 422 and "return_date" in r.content.decode()
    assert not StaffRecord.objects.exists()
    # Checklist answers missing; a photo that is not an image.
    app = _apply(cast, ent, dt.date(2026, 3, 3))
    actions.transition(acting_user=cast.committee_a, app=app, action="review")
    actions.transition(acting_user=cast.committee_a, app=app, action="assign", checkers=[cast.worker_a1],
                       check_date=dt.date(2026, 3, 2))
    check = SiteCheck.objects.get(application=app)
    worker = as_user(cast.worker_a1)
    data = all_pass()
    del data["result_canteen"]
    r = worker.post(f"/resumption/checks/{check.pk}/finish/", data)
    assert r.status_code == 400 and "item_canteen-errors" in r.content.decode()
    bad = io.BytesIO(b"%PDF-1.4 not an image")
    bad.name = "x.png"
    r = worker.post(f"/resumption/checks/{check.pk}/finish/", all_pass(photo_masks=bad))
    assert r.status_code == 400
    check.refresh_from_db()
    assert check.state == "assigned" and not CheckAnswer.objects.exists() and not Attachment.objects.exists()
    r = worker.post(f"/api/resumption-checks/{check.pk}/finish", {"answers": {"masks": {"result": "pass", "quantity": 3}}},
                    content_type="application/json")
    assert r.status_code == 422 and "item_canteen" in r.content.decode()
    # A problem closes only with an answer.
    p = Problem.objects.create(enterprise=ent, place_path=ent.place_path, organization_id=ent.organization_id, text="x",
                               due_date=dt.date(2026, 3, 3))
    assert as_user(cast.committee_a).post(f"/resumption/problems/{p.pk}/close/").status_code == 409
    assert liaison.post(f"/resumption/problems/{p.pk}/answer/", {"answer": " "}).status_code == 400


@pytest.mark.django_db
def test_only_assigned_checkers_and_in_scope(cast, ent, clock):
    clock.set(at(2026, 3, 2, 9, 0))
    other = make_user("worker_a1_b", [("grid_worker", cast.grid_a1)])
    app = _apply(cast, ent, dt.date(2026, 3, 3))
    actions.transition(acting_user=cast.committee_a, app=app, action="review")
    committee = as_user(cast.committee_a)
    # Only grid workers of the enterprise's grid can be assigned.
    r = committee.post(f"/resumption/{app.pk}/assign/", {"checkers": [cast.worker_b1.pk], "check_date": "2026-03-02"})
    assert r.status_code == 400
    actions.transition(acting_user=cast.committee_a, app=app, action="assign", checkers=[cast.worker_a1],
                       check_date=dt.date(2026, 3, 2))
    check = SiteCheck.objects.get(application=app)
    assert as_user(other).post(f"/resumption/checks/{check.pk}/finish/", all_pass()).status_code == 409
    assert as_user(cast.worker_b1).post(f"/resumption/checks/{check.pk}/finish/", all_pass()).status_code == 404
    assert as_user(cast.committee_b).get(f"/resumption/{app.pk}/").status_code == 404
    assert as_user(cast.committee_a).post(f"/resumption/checks/{check.pk}/finish/", all_pass()).status_code == 403
    # A liaison sees only its own enterprise.
    liaison_y = make_user("liaison_y", [("unit_liaison", cast.org_y)])
    assert as_user(liaison_y).get(f"/resumption/{app.pk}/").status_code == 404
    assert as_user(liaison_y).get(f"/resumption/enterprises/{ent.pk}/staff/").status_code == 404
    assert ent.name not in as_user(liaison_y).get("/resumption/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_two_checkers_finishing_one_check_at_once_one_wins():
    from tests.cast import build_cast

    cast = build_cast()
    from fangkong.inflow.models import MeasurePolicy  # noqa: F401

    ent = actions.register_enterprise(acting_user=None, name="", code="", place=cast.compound_a1, organization=cast.org_x)
    app = actions.create_application(acting_user=cast.liaison_x, enterprise=ent, planned_date=timezone.localdate(),
                                     submit=True)
    actions.transition(acting_user=cast.committee_a, app=app, action="review")
    second = make_user("worker_a1_c", [("grid_worker", cast.grid_a1)])
    actions.transition(acting_user=cast.committee_a, app=app, action="assign", checkers=[cast.worker_a1, second],
                       check_date=timezone.localdate())
    check = SiteCheck.objects.get(application=app)
    barrier = threading.Barrier(2)
    codes = {}

    def go(user, data):
        c = as_user(user)
        barrier.wait()
        codes[user.username] = c.post(f"/resumption/checks/{check.pk}/finish/", data).status_code
        connection.close()

    threads = [threading.Thread(target=go, args=(cast.worker_a1, all_pass())),
               threading.Thread(target=go, args=(second, all_pass(result_papers="fail", note_papers="缺营业执照")))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes.values()) == [302, 409], codes
    check.refresh_from_db()
    app.refresh_from_db()
    assert check.version == 2 and CheckAnswer.objects.filter(check_run=check).count() == len(ITEMS)
    assert app.state in (S.APPROVED, S.RETURNED)


@pytest.mark.django_db
def test_two_failed_inspections_or_a_case_suspend_and_reinspection_reinstates(cast, ent, clock):
    clock.set(at(2026, 3, 2, 9, 0))
    app = _apply(cast, ent, dt.date(2026, 3, 2))
    a = actions
    a.transition(acting_user=cast.committee_a, app=app, action="review")
    a.transition(acting_user=cast.committee_a, app=app, action="assign", checkers=[cast.worker_a1], check_date=dt.date(2026, 3, 2))
    check = SiteCheck.objects.get(application=app)
    answers = {k: {"result": "pass", "quantity": 5 if k in QTY else None} for k in ITEMS}
    a.finish_check(acting_user=cast.worker_a1, check=check, answers=answers)
    assert a.auto_resume() == 1
    worker = as_user(cast.worker_a1)
    for day in (5, 12):
        clock.set(at(2026, 3, day, 10, 0))
        worker = as_user(cast.worker_a1)
        r = worker.post(f"/resumption/enterprises/{ent.pk}/inspect/")
        assert r.status_code == 302
        insp = SiteCheck.objects.get(kind="supervision", state="assigned")
        worker.post(f"/resumption/checks/{insp.pk}/finish/", all_pass(result_masks="fail", note_masks="口罩不足", quantity_masks="3"))
    app.refresh_from_db()
    assert app.state == S.SUSPENDED
    assert Document.objects.filter(kind="resumption_suspension", subject_id=app.pk, revoked_at=None).exists()
    committee = as_user(cast.committee_a)
    assert committee.post(f"/resumption/{app.pk}/reinstate/").status_code == 409  # no passed re-inspection yet
    clock.set(at(2026, 3, 13, 10, 0))
    worker, committee = as_user(cast.worker_a1), as_user(cast.committee_a)
    worker.post(f"/resumption/enterprises/{ent.pk}/inspect/")
    insp = SiteCheck.objects.get(kind="supervision", state="assigned")
    assert worker.post(f"/resumption/checks/{insp.pk}/finish/", all_pass()).status_code == 302
    assert committee.post(f"/resumption/{app.pk}/reinstate/").status_code == 302
    app.refresh_from_db()
    assert app.state == S.RESUMED
    assert not Document.objects.filter(kind="resumption_suspension", subject_id=app.pk, revoked_at=None).exists()
    # A confirmed case among the staff (set by a medic) suspends it again.
    org = origin("广东省", "low")
    rec = a.add_staff(acting_user=cast.liaison_x, enterprise=ent, name="病例", id_number=make_id(660), origin=org,
                      return_date=dt.date(2026, 3, 10))
    assert rec.observation is None  # low risk: no observation by the policy table
    assert as_user(cast.medic_a).post(f"/resumption/staff/{rec.pk}/health/", {"health": "confirmed"}).status_code == 302
    app.refresh_from_db()
    assert app.state == S.SUSPENDED


@pytest.mark.django_db
def test_a_worker_back_through_inflow_keeps_its_measure(cast, ent, clock):
    """The measure started at the inflow arrival step is shown, never a second one."""
    from fangkong.observation import actions as observation

    clock.set(at(2026, 3, 2, 9, 0))
    running = observation.start(acting_user=cast.committee_a, person=cast.person_a1, kind="home_observation", days=14,
                                start_date=dt.date(2026, 2, 25))
    org = origin("河南省", "medium")
    rec = actions.add_staff(acting_user=cast.liaison_x, enterprise=ent, name=cast.person_a1.name, id_number=cast.ids["person_a1"],
                            origin=org, return_date=dt.date(2026, 2, 25))
    assert rec.observation_id == running.pk and Observation.objects.filter(person=cast.person_a1).count() == 1
    from fangkong.lib import registry

    sections = {s.key: s for s in registry.person_sections(cast.committee_a, cast.person_a1)}
    assert ent.name in sections["resumption"].items[0].text
    assert "resumption" not in {s.key for s in registry.person_sections(cast.committee_b, cast.person_a1)}


@pytest.mark.django_db
def test_deadlines_overdue_board_and_escalation(cast, ent, clock):
    from fangkong.notify.models import Recipient

    clock.set(at(2026, 3, 2, 10, 0))
    app = _apply(cast, ent, dt.date(2026, 3, 3))
    other = actions.register_enterprise(acting_user=None, name="乙公司", code="YY1", place=cast.grid_a1)
    fresh = actions.create_application(acting_user=None, enterprise=other, planned_date=dt.date(2026, 3, 5))
    clock.set(at(2026, 3, 2, 19, 0))
    fresh = actions.transition(acting_user=None, app=fresh, action="submit")
    body = as_user(cast.coordinator).get("/resumption/").content.decode()
    assert body.index(app.serial) < body.index(fresh.serial)
    assert app.serial in as_user(cast.coordinator).get("/resumption/?state=overdue").content.decode()
    from django.utils import translation

    with mock.patch("django.db.transaction.on_commit", side_effect=lambda fn, *a, **k: fn()), \
            translation.override("zh-hans"):  # the periodic task runs in the platform's language
        assert actions.escalate_overdue() == 1
        assert actions.escalate_overdue() == 0
    app.refresh_from_db()
    assert app.escalated_at is not None
    # What the escalated people read in their inboxes: which application, which enterprise,
    # overdue for a decision — once each; nobody outside the street's tree hears of it.
    expected = f"复工申请{app.serial}（{ent.name}）已超过办结时限"
    for user in (cast.coordinator, cast.commander, cast.committee_a):
        items = [i for i in as_user(user).get("/api/inbox").json()["items"] if i["kind"] == "resumption.overdue"]
        assert [(i["title"], i["body"]) for i in items] == [("复工申请办理超时", expected)], (user, items)
    for user in (cast.committee_b, cast.liaison_x, cast.worker_a1):
        assert not [i for i in as_user(user).get("/api/inbox").json()["items"] if i["kind"] == "resumption.overdue"]
    assert Recipient.objects.filter(message__kind="resumption.overdue").count() == 3
    # The inbox page shows the same text.
    assert expected in as_user(cast.coordinator).get("/inbox/").content.decode()


@pytest.mark.django_db
def test_checklist_versions_metrics_ledger_and_turnaround(cast, ent, clock):
    from fangkong.lib import registry

    clock.set(at(2026, 3, 2, 9, 0))
    app = _apply(cast, ent, dt.date(2026, 3, 2))
    assert app.checklist.number == 1
    admin = as_user(cast.admin)
    r = admin.post("/api/resumption-checklist", {"items": [{"key": "masks", "label": "口罩", "quantity": True}]},
                   content_type="application/json")
    assert r.status_code == 201 and r.json()["number"] == 2
    assert as_user(cast.committee_a).post("/api/resumption-checklist", {"items": []}, content_type="application/json").status_code == 403
    app.refresh_from_db()
    assert app.checklist.number == 1  # the application keeps its version
    figures = {m.key: dict(m.counts(dt.date(2026, 3, 2))) for m in registry.metrics() if m.key.startswith("resumption.")}
    assert sum(figures["resumption.submitted"].values()) == 1 and sum(figures["resumption.pending"].values()) == 1
    r = as_user(cast.coordinator).get("/resumption/ledger.xlsx")
    assert r.status_code == 200 and "spreadsheetml" in r["Content-Type"]
    rows = as_user(cast.coordinator).get("/api/resumption-turnaround").json()
    assert rows[0]["applications"] == 1


@pytest.mark.django_db
def test_staff_and_enterprises_import_from_spreadsheets_all_or_nothing(cast, ent, clock):
    from django.core.files.uploadedfile import SimpleUploadedFile

    clock.set(at(2026, 3, 2, 9, 0))
    henan = origin("河南省", "medium")
    liaison = as_user(cast.liaison_x)
    bad = ("姓名,身份证号,返回前所在地,返回日期\n"
           f"李四,{make_id(670)},{henan.name},2026-02-25\n"
           f"王五,{make_id(671)},火星,2026-02-25\n"
           f"赵六,12345,{henan.name},2026-02-25\n")
    r = liaison.post(f"/resumption/enterprises/{ent.pk}/staff/import/",
                     {"file": SimpleUploadedFile("staff.csv", bad.encode("gbk"), "text/csv")})
    body = r.content.decode()
    assert r.status_code == 400 and 'id="import-errors"' in body
    assert not StaffRecord.objects.exists()  # nothing stored
    good = ("员工健康档案\n姓名,身份证号,返回前所在地,返回日期\n"
            f"李四,{make_id(670)},{henan.name},2026-02-25\n王五,{make_id(671)},,\n")
    r = liaison.post(f"/resumption/enterprises/{ent.pk}/staff/import/",
                     {"file": SimpleUploadedFile("staff.csv", good.encode("utf-8"), "text/csv")})
    assert r.status_code == 302
    recs = {s.name: s for s in StaffRecord.objects.filter(enterprise=ent)}
    assert set(recs) == {"李四", "王五"} and recs["李四"].observation is not None and recs["王五"].observation is None
    # Enterprises of the committee's grids, by the grid's code.
    committee = as_user(cast.committee_a)
    sheet = "企业名称,统一社会信用代码,网格,分类,员工人数\n甲商行,QY-1,A1,重点,12\n乙酒店,QY-2,B1,,3\n"
    r = committee.post("/resumption/enterprises/import/", {"file": SimpleUploadedFile("e.csv", sheet.encode(), "text/csv")})
    assert r.status_code == 400 and Enterprise.objects.count() == 1  # B1 is outside community A
    sheet = "企业名称,统一社会信用代码,网格,分类,员工人数\n甲商行,QY-1,A1,重点,12\n乙酒店,QY-2,A2,,3\n"
    r = committee.post("/resumption/enterprises/import/", {"file": SimpleUploadedFile("e.csv", sheet.encode(), "text/csv")})
    assert r.status_code == 302
    assert set(Enterprise.objects.values_list("priority", flat=True)) == {"key", "ordinary"}
    assert Enterprise.objects.count() == 3


@pytest.mark.django_db
def test_turnaround_page_and_checklist_page(cast, ent, clock):
    clock.set(at(2026, 3, 2, 9, 0))
    app = _apply(cast, ent, dt.date(2026, 3, 2))
    clock.set(at(2026, 3, 2, 9, 40))
    actions.transition(acting_user=cast.committee_a, app=app, action="review")
    rows = as_user(cast.coordinator).get("/api/resumption-turnaround").json()
    assert rows[0]["links"]["review"] == 40.0
    assert "40.0" in as_user(cast.coordinator).get("/resumption/stats/").content.decode()
    admin = as_user(cast.admin)
    assert admin.get("/resumption/checklist/").status_code == 200
    r = admin.post("/resumption/checklist/", {"items": "口罩" * 70})
    assert r.status_code == 400 and actions.current_checklist().number == 1
    r = admin.post("/resumption/checklist/", {"items": "口罩储备（数量） | 数量\n员工分餐"})
    assert r.status_code == 302
    assert actions.current_checklist().items == [{"key": "masks", "label": "口罩储备（数量）", "quantity": True},
                                                 {"key": "item2", "label": "员工分餐", "quantity": False}]


@pytest.mark.django_db
def test_a_number_registered_elsewhere_reveals_nothing_and_starts_nothing(cast, ent, clock):
    """The liaison types the ID number of a person registered in community B: the record
    keeps what was typed, no measure is started from it, B's committee is asked instead."""
    from fangkong.notify.models import Recipient

    clock.set(at(2026, 3, 2, 9, 0))
    henan = origin("河南省", "medium")
    with mock.patch("django.db.transaction.on_commit", side_effect=lambda fn, *a, **k: fn()):
        r = as_user(cast.liaison_x).post(f"/api/resumption/enterprises/{ent.pk}/staff", {
            "name": "别人", "id_number": cast.ids["person_b1"], "origin_id": henan.pk, "return_date": "2026-02-25"},
            content_type="application/json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["name"] == "别人" and body["measure"] is None and "靶子丙" not in r.content.decode()
    assert not Observation.objects.filter(person=cast.person_b1).exists()
    assert Recipient.objects.filter(user=cast.committee_b, message__kind="resumption.measure_needed").count() == 1
    # Its own staff member typed with a wrong name: said plainly.
    r = as_user(cast.liaison_x).post(f"/api/resumption/enterprises/{ent.pk}/staff", {
        "name": "错名", "id_number": cast.ids["person_a1"]}, content_type="application/json")
    assert r.status_code == 422 and "id_number" in r.content.decode()


@pytest.mark.django_db
def test_an_empty_checklist_is_refused_with_its_message(cast):
    r = as_user(cast.admin).post("/resumption/checklist/", {"items": ""})
    assert r.status_code == 400 and ("at least one item" in r.content.decode() or "至少需要一项" in r.content.decode())


@pytest.mark.django_db
def test_retention_unlinks_staff_records_after_their_episode(cast, ent, clock):
    from fangkong.resumption import retention

    clock.set(at(2026, 3, 2, 9, 0))
    henan = origin("河南省", "medium")
    kept = actions.add_staff(acting_user=cast.liaison_x, enterprise=ent, name="甲某", id_number=make_id(680), origin=henan,
                             return_date=dt.date(2026, 2, 28))  # under observation
    gone = actions.add_staff(acting_user=cast.liaison_x, enterprise=ent, name="乙某", id_number=make_id(681))
    later = at(2026, 9, 30, 3, 0)
    assert retention.run(later, health_days=30, link_days=180, dry_run=True) == {"unlinked": 1}
    assert retention.run(later, health_days=30, link_days=180) == {"unlinked": 1}
    gone.refresh_from_db()
    kept.refresh_from_db()
    assert gone.person_id is None and gone.name == "" and gone.id_masked == ""
    assert kept.person_id is not None
    assert as_user(cast.liaison_x).get(f"/resumption/enterprises/{ent.pk}/staff/").status_code == 200


# --- The phone checklist offline, and photos through the API ------------------------------------

def _onsite_check(cast, ent) -> SiteCheck:
    app = _apply(cast, ent, timezone.localdate() + dt.timedelta(days=1))
    actions.transition(acting_user=cast.committee_a, app=app, action="review")
    actions.transition(acting_user=cast.committee_a, app=app, action="assign", checkers=[cast.worker_a1],
                       check_date=timezone.localdate())
    return SiteCheck.objects.get(application=app)


def api_answers(**over) -> dict:
    answers = {k: {"result": "pass", **({"quantity": 100} if k in QTY else {})} for k in ITEMS}
    answers.update(over)
    return answers


def b64_png() -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png_bytes()).decode()


@pytest.mark.django_db
def test_a_resend_of_the_same_queued_answers_stores_once(cast, ent, clock):
    """The offline page queues the answers under a client id and may send them twice (the
    answer to the first send lost on a bad network): stored once, answered alike."""
    from fangkong.audit.models import AuditEvent

    clock.set(at(2026, 3, 2, 9, 0))
    check = _onsite_check(cast, ent)
    body = {"answers": api_answers(masks={"result": "pass", "quantity": 80, "note": "仓库",
                                          "photos": [{"name": "masks.png", "data": b64_png()}]},
                                   canteen={"result": "fail", "note": "未分餐"}),
            "note": "离线填写", "client_id": "7f1c7a52-6a55-4a3e-9a55-0d7a0c1e0001", "offline": True}
    worker = as_user(cast.worker_a1)
    first = worker.post(f"/api/resumption-checks/{check.pk}/finish", body, content_type="application/json")
    assert first.status_code == 200, first.content.decode()[:500]
    again = worker.post(f"/api/resumption-checks/{check.pk}/finish", body, content_type="application/json")
    assert again.status_code == 200 and again.json() == first.json()
    check.refresh_from_db()
    assert check.state == SiteCheck.State.FAILED and check.finished_offline and check.client_id == body["client_id"]
    assert CheckAnswer.objects.filter(check_run=check).count() == len(ITEMS)
    assert Attachment.objects.filter(owner_type="resumption.checkanswer").count() == 1
    assert Problem.objects.filter(check_run=check).count() == 1
    assert AuditEvent.objects.filter(action="resumption.check").count() == 1
    assert check.application.events.filter(action="fail").count() == 1
    # Other answers to the finished check are still refused with the reason.
    r = worker.post(f"/api/resumption-checks/{check.pk}/finish", {**body, "client_id": "other-device-entry"},
                    content_type="application/json")
    assert r.status_code == 409 and r.json()["detail"]
    assert CheckAnswer.objects.filter(check_run=check).count() == len(ITEMS)


@pytest.mark.django_db
def test_the_page_form_resubmitted_with_its_client_id_stores_once(cast, ent, clock):
    clock.set(at(2026, 3, 2, 9, 0))
    check = _onsite_check(cast, ent)
    worker = as_user(cast.worker_a1)
    page = worker.get(f"/resumption/checks/{check.pk}/").content.decode()
    import re

    client_id = re.search(r'name="client_id" value="([0-9a-f-]{36})"', page).group(1)
    assert worker.post(f"/resumption/checks/{check.pk}/finish/", all_pass(client_id=client_id)).status_code == 302
    assert worker.post(f"/resumption/checks/{check.pk}/finish/", all_pass(client_id=client_id)).status_code == 302
    assert worker.post(f"/resumption/checks/{check.pk}/finish/", all_pass()).status_code == 409
    assert CheckAnswer.objects.filter(check_run=check).count() == len(ITEMS)
    # The page and its service worker (public: code only) for the offline visit.
    sw = Client().get("/resumption/checks/sw.js")
    assert sw.status_code == 200 and sw["Service-Worker-Allowed"] == "/resumption/checks/"
    assert "/resumption/checks/sw.js" in worker.get("/resumption/checks/").content.decode()


@pytest.mark.django_db
def test_the_api_finish_takes_photos_works_403_404(cast, ent, clock):
    clock.set(at(2026, 3, 2, 9, 0))
    check = _onsite_check(cast, ent)
    url = f"/api/resumption-checks/{check.pk}/finish"
    photo = {"name": "masks.png", "data": b64_png()}
    body = {"answers": api_answers(masks={"result": "pass", "quantity": 50, "photos": [photo, photo]})}
    # Wrong role: 403; a grid worker of another community: 404; nothing stored.
    assert as_user(cast.liaison_x).post(url, body, content_type="application/json").status_code == 403
    assert as_user(cast.worker_b1).post(url, body, content_type="application/json").status_code == 404
    # A photo that is no image, or no base64: 422 naming the item, nothing stored.
    import base64

    bad = {"answers": api_answers(masks={"result": "pass", "quantity": 5, "photos": [
        {"name": "x.png", "data": base64.b64encode(b"not an image at all").decode()}]})}
    r = as_user(cast.worker_a1).post(url, bad, content_type="application/json")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "photo_masks"
    bad["answers"]["masks"]["photos"][0]["data"] = "%%%not base64%%%"
    r = as_user(cast.worker_a1).post(url, bad, content_type="application/json")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "photo_masks"
    check.refresh_from_db()
    assert check.state == SiteCheck.State.ASSIGNED and not CheckAnswer.objects.exists() and not Attachment.objects.exists()
    # Works: the photos are the answer's private attachments, listed in the answer.
    r = as_user(cast.worker_a1).post(url, body, content_type="application/json")
    assert r.status_code == 200, r.content.decode()[:500]
    masks = next(a for a in r.json()["answers"] if a["key"] == "masks")
    assert len(masks["photos"]) == 2 and masks["quantity"] == 50
    answer = CheckAnswer.objects.get(check_run=check, key="masks")
    assert Attachment.objects.filter(owner_type="resumption.checkanswer", owner_id=answer.pk).count() == 2
    assert as_user(cast.worker_a1).get(masks["photos"][0]["url"]).status_code == 200
    assert as_user(cast.worker_b1).get(masks["photos"][0]["url"]).status_code == 404
    # More photos later through the uploads API, owned by the answer (its id in the response).
    f = io.BytesIO(png_bytes())
    f.name = "later.png"
    r = as_user(cast.worker_a1).post("/api/uploads", {"owner_type": "resumption.checkanswer", "owner_id": masks["id"],
                                                      "file": f})
    assert r.status_code == 201
    f.seek(0)
    assert as_user(cast.worker_b1).post("/api/uploads", {"owner_type": "resumption.checkanswer", "owner_id": masks["id"],
                                                         "file": f}).status_code == 404
    # The schema documents the photos.
    schema = Client().get("/api/openapi.json").json()
    assert "ResumptionPhotoIn" in schema["components"]["schemas"]
    assert "photos" in schema["components"]["schemas"]["ResumptionAnswerIn"]["properties"]


@pytest.mark.django_db
def test_imports_through_the_api_all_or_nothing_with_row_and_column(cast, ent, clock):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import translation

    from fangkong.resumption.imports import ENTERPRISE_COLUMNS

    clock.set(at(2026, 3, 2, 9, 0))
    henan = origin("河南省", "medium")
    url = f"/api/resumption/enterprises/{ent.pk}/staff/import"
    bad = ("姓名,身份证号,返回前所在地,返回日期\n"
           f"李四,{make_id(680)},{henan.name},2026-02-25\n"
           f"王五,{make_id(681)},火星,2026-02-25\n"
           f"赵六,12345,{henan.name},2026-02-25\n")
    r = as_user(cast.liaison_x).post(url, {"file": SimpleUploadedFile("staff.csv", bad.encode("gbk"), "text/csv")})
    assert r.status_code == 422, r.content.decode()[:500]
    errors = {(e["row"], e["column"]) for e in r.json()["detail"]}
    assert errors == {(3, "返回前所在地"), (4, "身份证号")}, r.json()
    assert all(e["field"] == "file" and e["message"] for e in r.json()["detail"])
    assert not StaffRecord.objects.exists()  # nothing stored
    good = f"姓名,身份证号,返回前所在地,返回日期\n李四,{make_id(680)},{henan.name},2026-02-25\n王五,{make_id(681)},,\n"
    sheet = lambda text: {"file": SimpleUploadedFile("staff.csv", text.encode(), "text/csv")}  # noqa: E731
    # Wrong role 403; another enterprise's liaison 404; nothing stored.
    assert as_user(cast.committee_a).post(url, sheet(good)).status_code == 403
    liaison_y = make_user("liaison_y2", [("unit_liaison", cast.org_y)])
    assert as_user(liaison_y).post(url, sheet(good)).status_code == 404
    # Without a file: another's enterprise is still a 404 (the scope first), one's own a 422 naming the field.
    assert as_user(liaison_y).post(url, {}).status_code == 404
    nofile = as_user(cast.liaison_x).post(url, {})
    assert nofile.status_code == 422 and "file" in nofile.content.decode()
    assert not StaffRecord.objects.exists()
    r = as_user(cast.liaison_x).post(url, sheet(good))
    assert r.status_code == 201 and r.json() == {"added": 2}
    recs = {s.name: s for s in StaffRecord.objects.filter(enterprise=ent)}
    assert set(recs) == {"李四", "王五"} and recs["李四"].observation is not None
    # A missing required column: row 0, the file as a whole.
    r = as_user(cast.liaison_x).post(url, sheet("姓名\n孙七\n"))
    assert r.status_code == 422 and r.json()["detail"][0]["row"] == 0

    # Enterprises: the committee's grids only, by the grid's code.
    url = "/api/resumption/enterprises/import"
    rows = "企业名称,统一社会信用代码,网格,分类,员工人数\n甲商行,QY-9,A1,重点,12\n乙酒店,QY-8,B1,,x\n"
    r = as_user(cast.committee_a).post(url, {"file": SimpleUploadedFile("e.csv", rows.encode(), "text/csv")})
    assert r.status_code == 422
    [error] = r.json()["detail"]
    with translation.override("zh-hans"):
        assert error["row"] == 3 and error["column"] == str(ENTERPRISE_COLUMNS.labels["place"]) and error["message"]
    assert Enterprise.objects.count() == 1  # B1 is outside community A: nothing stored
    rows = "企业名称,统一社会信用代码,网格,分类,员工人数\n甲商行,QY-9,A1,重点,12\n乙酒店,QY-8,A2,,3\n"
    csv = lambda: {"file": SimpleUploadedFile("e.csv", rows.encode(), "text/csv")}  # noqa: E731
    assert as_user(cast.liaison_x).post(url, csv()).status_code == 403
    assert as_user(cast.worker_a1).post(url, csv()).status_code == 403
    r = as_user(cast.committee_b).post(url, csv())
    assert r.status_code == 422 and Enterprise.objects.count() == 1  # A1, A2: not community B's
    r = as_user(cast.committee_a).post(url, csv())
    assert r.status_code == 201 and r.json() == {"added": 2}
    assert set(Enterprise.objects.values_list("priority", flat=True)) == {"key", "ordinary"}


@pytest.mark.django_db
def test_an_inspection_finding_at_an_enterprise_opens_a_problem_due_by_its_deadline(cast, ent, clock):
    """The street's inspection team (command) finds something wrong at an enterprise that has
    an application: a problem of the enterprise's log, due by the finding's deadline; the
    rectification answers it and the team's verification closes it."""
    import json

    from fangkong.command import actions as command
    from fangkong.command.models import Finding

    clock.set(at(2026, 3, 2, 9, 0))
    firm = actions.register_enterprise(acting_user=None, name="丁工厂", code="DG1", place=cast.compound_a1, priority="key")
    shop = actions.register_enterprise(acting_user=None, name="戊商店", code="WS1", place=cast.compound_a1)
    app = actions.create_application(acting_user=None, enterprise=firm, planned_date=dt.date(2026, 3, 3), submit=True)
    hq = command.create_hq(acting_user=cast.admin, place=cast.street, name="测试街道疫情防控指挥部")
    team = command.create_team(acting_user=cast.coordinator, hq=hq, name="第一督导组", members=[cast.inspector])
    plan = command.create_plan(acting_user=cast.coordinator, team=team, day=dt.date(2026, 3, 2))
    inspector = as_user(cast.inspector)

    def find(org, **over):
        data = {"place": cast.compound_a1.pk, "org": org.pk if org else None, "target": "enterprise",
                "category": "disinfect", "text": "车间未按时消毒", "responsible": "丁工厂", "deadline": "2026-03-04",
                **over}
        return inspector.post(f"/api/command/plans/{plan.pk}/findings", json.dumps(data), content_type="application/json")

    r = find(firm.organization, client_key="f-1")
    assert r.status_code == 201, r.content.decode()[:500]
    assert find(firm.organization, client_key="f-1").status_code == 200  # the inspector's offline resend
    finding = Finding.objects.get(pk=r.json()["id"])
    [problem] = Problem.objects.filter(enterprise=firm)
    assert problem.due_date == dt.date(2026, 3, 4) == finding.deadline
    assert problem.application == app and problem.owner == "enterprise" and problem.state == "open"
    assert "车间未按时消毒" in problem.text and problem.source == f"command.finding:{finding.pk}"
    # On the morning meeting's list; nothing for an enterprise without an application, a
    # finding fixed on the spot, or a place without a unit.
    assert "车间未按时消毒" in as_user(cast.committee_a).get("/resumption/problems/").content.decode()
    assert find(shop.organization, client_key="f-2").status_code == 201
    assert find(firm.organization, client_key="f-3", fixed_on_spot=True, deadline=None).status_code == 201
    assert find(None, client_key="f-4", target="compound").status_code == 201
    assert Problem.objects.count() == 1
    # The unit reports it rectified: the problem is answered; the team verifies: closed.
    clock.set(at(2026, 3, 3, 10, 0))
    command.finding_action(acting_user=cast.committee_a, finding=finding, action="rectified", note="已安排每日两次消毒")
    problem.refresh_from_db()
    assert problem.state == "answered" and problem.answer == "已安排每日两次消毒"
    # Not fixed after all: the team reopens it with a new deadline, and so is the problem.
    command.finding_action(acting_user=cast.inspector, finding=Finding.objects.get(pk=finding.pk), action="reject",
                           note="复查仍未消毒", deadline="2026-03-05")
    problem.refresh_from_db()
    assert problem.state == "open" and problem.due_date == dt.date(2026, 3, 5)
    command.finding_action(acting_user=cast.committee_a, finding=Finding.objects.get(pk=finding.pk), action="rectified",
                           note="已消毒并记录")
    command.finding_action(acting_user=cast.inspector, finding=Finding.objects.get(pk=finding.pk), action="verify")
    problem.refresh_from_db()
    assert problem.state == "closed" and problem.answer == "已消毒并记录"
