"""Door-to-door census (M3) through HTTP as its users drive it: the committee creates and
starts a campaign, grid workers record visits with the answers of each member present on
the phone form or the API, follow-ups open for risky answers; then the stored state, the
figures in 户次/人次, coverage and the list of households not yet reached."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from fangkong.census import actions
from fangkong.census.models import Answer, Campaign, FollowUp, Visit
from fangkong.census.standard import standard
from fangkong.lib import registry
from tests.cast import add_person

SAFE = {"source_area": "no", "contact_source": "no", "contact_confirmed": "no", "gathering": "no"}


@pytest.fixture
def alerts_sink():
    seen: list[registry.Alert] = []
    sink = seen.append
    registry.register_alert_sink(sink)
    yield seen
    registry._SINKS.remove(sink)


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def make_campaign(place, state="running", name="全覆盖普查"):
    today = timezone.localdate()
    c = actions.create_campaign(acting_user=None, name=name, place=place, start_date=today, end_date=today + dt.timedelta(days=2),
                                questionnaire=standard())
    if state != "draft":
        c = actions.transition(acting_user=None, campaign=c, action="start")
    return c


def visit_form(household, outcome="reached", members=None, client_key="", note=""):
    """The POST body of the phone form: members {person: answers} are the ones present."""
    data = {"household": household.pk, "outcome": outcome, "note": note, "client_key": client_key, "present": []}
    for person, answers in (members or {}).items():
        data["present"].append(person.pk)
        for key, value in answers.items():
            data[f"q_{person.pk}_{key}"] = value
    return data


def post_json(client, url, payload):
    return client.post(url, data=json.dumps(payload), content_type="application/json")


# --- Campaigns --------------------------------------------------------------------------

@pytest.mark.django_db
def test_committee_creates_and_starts_a_campaign(cast):
    standard()
    c = as_user(cast.committee_a)
    page = c.get("/census/new/")
    assert page.status_code == 200 and "入户摸排标准问卷" in page.content.decode()
    today = timezone.localdate()
    resp = c.post("/census/new/", {"name": "甲社区普查", "place": cast.comm_a.pk, "questionnaire": standard().pk,
                                   "start_date": today.isoformat(), "end_date": (today + dt.timedelta(days=2)).isoformat()})
    assert resp.status_code == 302
    campaign = Campaign.objects.get(name="甲社区普查")
    assert campaign.state == "draft" and campaign.place_path == cast.comm_a.path
    # Wrong role 403; other jurisdiction 404 (start), and a place outside the grant is a field error.
    assert as_user(cast.worker_a1).post("/census/new/", {"name": "x"}).status_code == 403
    assert as_user(cast.committee_b).post(f"/census/{campaign.pk}/start/").status_code == 404
    assert as_user(cast.worker_a1).post(f"/census/{campaign.pk}/start/").status_code == 403
    bad = as_user(cast.committee_b).post("/census/new/", {"name": "乙", "place": cast.comm_a.pk, "questionnaire": standard().pk,
                                                          "start_date": today.isoformat(), "end_date": today.isoformat()})
    assert bad.status_code == 400 and Campaign.objects.count() == 1
    assert c.post(f"/census/{campaign.pk}/start/").status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == "running"
    assert c.post(f"/census/{campaign.pk}/start/").status_code == 409
    assert c.post(f"/census/{campaign.pk}/close/").status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == "closed"


@pytest.mark.django_db
def test_campaign_api(cast):
    standard()
    c = as_user(cast.coordinator)
    resp = post_json(c, "/api/census/campaigns", {"name": "街道普查", "place_id": cast.street.pk,
                                                 "start_date": "2026-01-27", "end_date": "2026-01-29"})
    assert resp.status_code == 201, resp.content
    pk = resp.json()["id"]
    assert resp.json()["state"] == "draft"
    bad = post_json(c, "/api/census/campaigns", {"name": "", "place_id": cast.street.pk, "start_date": "2026-01-29",
                                                "end_date": "2026-01-27"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["detail"]} == {"name", "end_date"}
    assert post_json(as_user(cast.worker_a1), "/api/census/campaigns", {}).status_code == 403
    # The committee of A sees the street-wide campaign (its community is inside) but cannot start it.
    assert pk in [x["id"] for x in as_user(cast.committee_a).get("/api/census/campaigns").json()]
    assert as_user(cast.committee_a).post(f"/api/census/campaigns/{pk}/start").status_code == 404
    assert c.post(f"/api/census/campaigns/{pk}/start").json()["state"] == "running"
    assert c.post(f"/api/census/campaigns/{pk}/start").status_code == 409


# --- Visits -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_grid_worker_records_a_visit_on_the_phone_form(cast):
    campaign = make_campaign(cast.street)
    w = as_user(cast.worker_a1)
    picker = w.get(f"/census/{campaign.pk}/visit/").content.decode()
    assert cast.hh_a1.address in picker and cast.hh_b1.address not in picker and cast.hh_a2.address not in picker
    form = w.get(f"/census/{campaign.pk}/visit/?household={cast.hh_a1.pk}")
    assert form.status_code == 200 and "是否去过疫源地" in form.content.decode() and "靶子甲" in form.content.decode()
    resp = w.post(f"/census/{campaign.pk}/visit/", visit_form(cast.hh_a1, members={cast.person_a1: {**SAFE, "temperature": "36.6"}}))
    assert resp.status_code == 302
    visit = Visit.objects.get()
    assert (visit.outcome, visit.persons, visit.visitor, visit.place_path) == ("reached", 1, cast.worker_a1, cast.hh_a1.place_path)
    assert dict(Answer.objects.values_list("question__key", "value")) == {**SAFE, "temperature": "36.6"}
    assert not FollowUp.objects.exists()
    # Wrong role 403; a grid worker of B1 cannot visit A's households (404); nor see them.
    assert as_user(cast.medic_a).post(f"/census/{campaign.pk}/visit/", visit_form(cast.hh_a1)).status_code == 403
    assert as_user(cast.worker_b1).get(f"/census/{campaign.pk}/visit/?household={cast.hh_a1.pk}").status_code == 404
    other = as_user(cast.worker_b1).post(f"/census/{campaign.pk}/visit/", visit_form(cast.hh_a1, members={cast.person_a1: SAFE}))
    assert other.status_code == 404
    assert Visit.objects.count() == 1


@pytest.mark.django_db
def test_bad_answers_are_field_errors_and_nothing_is_stored(cast):
    campaign = make_campaign(cast.comm_a)
    w = as_user(cast.worker_a1)
    url = f"/census/{campaign.pk}/visit/"
    cases = [
        (visit_form(cast.hh_a1, members={cast.person_a1: {**SAFE, "gathering": ""}}), f"q_{cast.person_a1.pk}_gathering-errors"),
        (visit_form(cast.hh_a1, members={cast.person_a1: {**SAFE, "source_area": "maybe"}}), f"q_{cast.person_a1.pk}_source_area-errors"),
        (visit_form(cast.hh_a1, members={cast.person_a1: {**SAFE, "temperature": "50"}}), f"q_{cast.person_a1.pk}_temperature-errors"),
        (visit_form(cast.hh_a1, members={}), "members-errors"),
        (visit_form(cast.hh_a1, outcome="gone", members={}), "outcome-errors"),
    ]
    for data, error_id in cases:
        resp = w.post(url, data)
        assert resp.status_code == 400, data
        assert error_id in resp.content.decode(), error_id
    assert "必填" in w.post(url, cases[0][0]).content.decode()
    # A member of another household, answers with nobody home: refused by the action too.
    with pytest.raises(actions.Invalid) as exc:
        actions.record_visit(acting_user=cast.worker_a1, campaign=campaign, household=cast.hh_a1, outcome="reached",
                             members={cast.person_a2.pk: SAFE})
    assert "members" in exc.value.errors
    api = post_json(w, f"/api/census/campaigns/{campaign.pk}/visits",
                    {"household_id": cast.hh_a1.pk, "outcome": "nobody_home", "members": {str(cast.person_a1.pk): SAFE}})
    assert api.status_code == 422 and api.json()["detail"][0]["field"] == "members"
    assert not Visit.objects.exists() and not Answer.objects.exists() and not FollowUp.objects.exists()


@pytest.mark.django_db
def test_risky_answer_opens_a_follow_up_and_one_alert(cast, alerts_sink, django_capture_on_commit_callbacks):
    campaign = make_campaign(cast.comm_a)
    w = as_user(cast.worker_a1)
    with django_capture_on_commit_callbacks(execute=True):
        resp = w.post(f"/census/{campaign.pk}/visit/", visit_form(
            cast.hh_a1, members={cast.person_a1: {**SAFE, "source_area": "yes", "temperature": "37.8"}}))
    assert resp.status_code == 302
    fu = FollowUp.objects.get()
    assert (fu.person, fu.state, fu.place_path) == (cast.person_a1, "open", cast.hh_a1.place_path)
    assert "是否去过疫源地" in fu.reason and "37.8" in fu.reason
    assert [(a.kind, a.perms, a.person_id, a.obj_id) for a in alerts_sink] == [
        ("census.risk", ("observation.alerted", "observation.start"), cast.person_a1.pk, fu.pk)]
    assert "建议：居家医学观察" in alerts_sink[0].text
    assert "靶子甲" not in alerts_sink[0].text
    # The follow-up list; closing it: wrong role 403, other grid 404, works once, then 409.
    assert "靶子甲" in w.get("/census/followups/").content.decode()
    assert "靶子甲" not in as_user(cast.worker_b1).get("/census/followups/").content.decode()
    done = f"/census/followups/{fu.pk}/done/"
    assert as_user(cast.medic_a).post(done, {"note": "x"}).status_code == 403
    assert as_user(cast.worker_b1).post(done, {"note": "x"}).status_code == 404
    assert w.post(done, {"note": ""}).status_code == 400
    assert w.post(done, {"note": "已电话核实，居家观察"}).status_code == 302
    fu.refresh_from_db()
    assert (fu.state, fu.done_by, fu.done_note) == ("done", cast.worker_a1, "已电话核实，居家观察")
    assert w.post(done, {"note": "again"}).status_code == 409


def _risky_followup(cast, campaign, person, household, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        resp = as_user(cast.committee_a).post(f"/census/{campaign.pk}/visit/", visit_form(
            household, members={person: {**SAFE, "contact_confirmed": "yes"}}))
    assert resp.status_code == 302
    return FollowUp.objects.filter(person=person).latest("id")


@pytest.mark.django_db
def test_risky_answer_proposes_an_observation_that_the_committee_starts(cast, alerts_sink,
                                                                        django_capture_on_commit_callbacks):
    from fangkong.audit.models import AuditEvent
    from fangkong.observation.models import Observation

    campaign = make_campaign(cast.comm_a)
    fu = _risky_followup(cast, campaign, cast.person_a1, cast.hh_a1, django_capture_on_commit_callbacks)
    committee = as_user(cast.committee_a)
    page = committee.get("/census/followups/").content.decode()
    assert "建议：居家医学观察 14 天" in page and f"/census/followups/{fu.pk}/observe/" in page
    # The grid worker sees the proposal but may not start a measure.
    assert f"/census/followups/{fu.pk}/observe/" not in as_user(cast.worker_a1).get("/census/followups/").content.decode()
    observe = f"/census/followups/{fu.pk}/observe/"
    form = {"kind": "home_observation", "days": "14"}
    assert as_user(cast.worker_a1).post(observe, form).status_code == 403
    assert as_user(cast.committee_b).post(observe, form).status_code == 404
    assert committee.get(observe).status_code == 405
    for bad, message in (({"kind": "home_observation", "days": "0"}, "期限为 1 至 60 天"),
                         ({"kind": "home_observation", "days": "两周"}, "请填写天数"),
                         ({"kind": "quarantine", "days": "14"}, "请选择管控措施")):
        resp = committee.post(observe, bad)
        assert resp.status_code == 400, bad
        assert f'class="flash error" role="status">{message}<' in resp.content.decode()
    fu.refresh_from_db()
    assert fu.state == "open" and not Observation.objects.exists()

    resp = committee.post(observe, form)
    obs = Observation.objects.get()
    assert resp.status_code == 302 and resp.url == f"/observation/{obs.pk}/"
    assert (obs.person, obs.kind, obs.state, obs.planned_end - obs.start_date) == (
        cast.person_a1, "home_observation", "active", dt.timedelta(days=14))
    assert obs.reason.startswith("入户摸排：")
    fu.refresh_from_db()
    assert (fu.state, fu.done_by, fu.observation) == ("done", cast.committee_a, obs)
    assert "居家医学观察" in fu.done_note and "14" in fu.done_note
    assert AuditEvent.objects.filter(action="census.followup.observe", object_id=str(fu.pk)).count() == 1
    assert committee.post(observe, form).status_code == 409  # taken once

    # A second risky visit of the same person: the person is under a measure already (409, stays open).
    fu2 = _risky_followup(cast, campaign, cast.person_a1, cast.hh_a1, django_capture_on_commit_callbacks)
    assert committee.post(f"/census/followups/{fu2.pk}/observe/", form).status_code == 409
    fu2.refresh_from_db()
    assert fu2.state == "open" and Observation.objects.count() == 1


@pytest.mark.django_db
def test_followup_observe_api(cast, django_capture_on_commit_callbacks):
    from fangkong.observation.models import Observation

    campaign = make_campaign(cast.comm_a)
    fu = _risky_followup(cast, campaign, cast.person_a2, cast.hh_a2, django_capture_on_commit_callbacks)
    url = f"/api/census/followups/{fu.pk}/observe"
    assert post_json(as_user(cast.worker_a1), url, {}).status_code == 403
    assert post_json(as_user(cast.committee_b), url, {}).status_code == 404
    resp = post_json(as_user(cast.medic_a), url, {"kind": "health_monitoring", "days": 100})
    assert resp.status_code == 422 and [e["field"] for e in resp.json()["detail"]] == ["days"]
    fu.refresh_from_db()
    assert fu.state == "open" and not Observation.objects.exists()
    resp = post_json(as_user(cast.medic_a), url, {"kind": "health_monitoring", "days": 7})
    assert resp.status_code == 201, resp.content
    body = resp.json()
    obs = Observation.objects.get()
    assert body["observation_id"] == obs.pk and body["followup"]["state"] == "done"
    assert (obs.person, obs.kind) == (cast.person_a2, "health_monitoring")
    assert post_json(as_user(cast.medic_a), url, {}).status_code == 409


@pytest.mark.django_db
def test_visit_api_and_double_submit(cast):
    campaign = make_campaign(cast.street)
    w = as_user(cast.worker_a1)
    url = f"/api/census/campaigns/{campaign.pk}/visits"
    body = {"household_id": cast.hh_a1.pk, "outcome": "reached", "members": {str(cast.person_a1.pk): SAFE},
            "client_key": "k-123"}
    first = post_json(w, url, body)
    assert first.status_code == 201, first.content
    again = post_json(w, url, body)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Visit.objects.count() == 1 and Answer.objects.count() == 4
    assert post_json(as_user(cast.medic_a), url, body).status_code == 403
    assert post_json(as_user(cast.worker_b1), url, {**body, "client_key": "k-2"}).status_code == 404
    draft = make_campaign(cast.comm_a, state="draft", name="草稿")
    assert post_json(w, f"/api/census/campaigns/{draft.pk}/visits", {**body, "client_key": "k-3"}).status_code == 409


# --- Figures, coverage, not yet reached --------------------------------------------------

@pytest.mark.django_db
def test_counts_coverage_and_not_yet_reached(cast):
    """Street-wide campaign; households A1 (2 members), A2 and B1.
    A1: nobody home, then reached with 2 persons; B1: reached with 1 person.
    户次 3, 人次 3; coverage A1 1/1, A2 0/1, B1 1/1; community A 1/2, B 1/1."""
    add_person(cast, "a1_spouse", name="户主配偶", seq=41, household=cast.hh_a1)
    campaign = make_campaign(cast.street)
    w, wb = as_user(cast.worker_a1), as_user(cast.committee_a)
    pending_url = f"/census/{campaign.pk}/pending/"
    before = wb.get(pending_url).content.decode()
    assert cast.hh_a1.address in before and cast.hh_a2.address in before and cast.hh_b1.address not in before

    assert w.post(f"/census/{campaign.pk}/visit/", visit_form(cast.hh_a1, outcome="nobody_home")).status_code == 302
    assert cast.hh_a1.address in wb.get(pending_url).content.decode()  # nobody home: still to reach
    spouse = cast.persons["a1_spouse"]
    assert w.post(f"/census/{campaign.pk}/visit/", visit_form(cast.hh_a1, members={cast.person_a1: SAFE, spouse: SAFE})).status_code == 302
    after = wb.get(pending_url).content.decode()
    assert cast.hh_a1.address not in after and cast.hh_a2.address in after
    assert as_user(cast.worker_b1).post(f"/census/{campaign.pk}/visit/",
                                        visit_form(cast.hh_b1, members={cast.person_b1: SAFE})).status_code == 302

    cov = as_user(cast.commander).get(f"/api/census/campaigns/{campaign.pk}/coverage").json()
    assert (cov["household_visits"], cov["person_visits"], cov["households"], cov["reached"]) == (3, 3, 3, 2)
    assert {g["name"]: (g["households"], g["reached"]) for g in cov["grids"]} == {
        "甲一网格": (1, 1), "甲二网格": (1, 0), "乙一网格": (1, 1)}
    assert {g["name"]: (g["households"], g["reached"]) for g in cov["communities"]} == {"甲社区": (2, 1), "乙社区": (1, 1)}
    # The committee of A sees its own part only.
    mine = wb.get(f"/api/census/campaigns/{campaign.pk}/coverage").json()
    assert (mine["household_visits"], mine["person_visits"], mine["households"], mine["reached"]) == (2, 2, 2, 1)
    assert [c["name"] for c in mine["communities"]] == ["甲社区"]
    page = wb.get(f"/census/{campaign.pk}/").content.decode()
    assert 'id="household-visits">2<' in page and 'id="person-visits">2<' in page and 'id="coverage">1/2<' in page
    assert "乙一网格" not in page

    # Daily figures: per place path, today.
    today = timezone.localdate()
    by_key = {m.key: m for m in registry.metrics()}
    hv = dict(by_key["census.household_visits"].counts(today))
    pv = dict(by_key["census.person_visits"].counts(today))
    assert hv == {cast.hh_a1.place_path: 2, cast.hh_b1.place_path: 1}
    assert pv == {cast.hh_a1.place_path: 2, cast.hh_b1.place_path: 1}
    assert list(by_key["census.followups"].counts(today)) == []
    assert list(by_key["census.household_visits"].counts(today - dt.timedelta(days=1))) == []


@pytest.mark.django_db
def test_pages_render_in_chinese(cast):
    campaign = make_campaign(cast.comm_a)
    c = as_user(cast.committee_a)
    html = c.get("/census/").content.decode()
    assert "入户摸排" in html and "全覆盖普查" in html
    detail = c.get(f"/census/{campaign.pk}/").content.decode()
    assert "户次" in detail and "人次" in detail and "网格" in detail
    assert as_user(cast.worker_b1).get(f"/census/{campaign.pk}/").status_code == 404
    assert as_user(cast.medic_a).get("/census/").status_code == 403


# --- Questionnaires configured by staff --------------------------------------------------

@pytest.mark.django_db
def test_staff_configure_a_questionnaire_and_its_risk_rules(cast, django_capture_on_commit_callbacks, alerts_sink):
    from fangkong.census.models import Questionnaire

    c = as_user(cast.committee_a)
    assert c.get("/census/questionnaires/").status_code == 200
    assert as_user(cast.worker_a1).get("/census/questionnaires/").status_code == 403
    before = Questionnaire.objects.count()
    bad = c.post("/census/questionnaires/", {
        "name": "返乡人员问卷",
        "q-0-text": "从哪里返回？", "q-0-kind": "single", "q-0-choices": "湖北", "q-0-required": "1",
        "q-2-text": "体温", "q-2-kind": "temperature", "q-2-risk": "高",
    })
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "question-0-errors" in html and "question-2-errors" in html and "question-1-errors" not in html
    assert Questionnaire.objects.count() == before
    ok = c.post("/census/questionnaires/", {
        "name": "返乡人员问卷",
        "q-0-text": "从哪里返回？", "q-0-kind": "single", "q-0-choices": "湖北，省内, 其他省份", "q-0-risk": "湖北", "q-0-required": "1",
        "q-1-text": "同住人数", "q-1-kind": "number", "q-1-risk": "",
        "q-3-text": "是否有发热咳嗽？", "q-3-kind": "yesno", "q-3-risk": "是", "q-3-required": "1",
        "q-4-text": "症状", "q-4-kind": "multiple", "q-4-choices": "发热,咳嗽,乏力", "q-4-risk": "发热",
    })
    assert ok.status_code == 302
    qn = Questionnaire.objects.get(name="返乡人员问卷")
    qs = list(qn.questions.all())
    assert [(q.key, q.kind, q.required, q.choices, q.risk_values) for q in qs] == [
        ("q1", "single", True, ["湖北", "省内", "其他省份"], ["湖北"]), ("q2", "number", False, [], []),
        ("q3", "yesno", True, [], ["yes"]), ("q4", "multiple", False, ["发热", "咳嗽", "乏力"], ["发热"])]

    # API: a questionnaire is validated the same way.
    api = post_json(c, "/api/census/questionnaires", {"name": "x", "questions": [{"text": "t", "kind": "single", "choices": ["a"]}]})
    assert api.status_code == 422 and api.json()["detail"][0]["field"] == "questions.0.choices"
    assert post_json(as_user(cast.worker_a1), "/api/census/questionnaires", {}).status_code == 403

    # A campaign with it: choice answers are checked; a risky choice opens a follow-up.
    today = timezone.localdate()
    campaign = actions.transition(acting_user=None, action="start", campaign=actions.create_campaign(
        acting_user=None, name="返乡排查", place=cast.grid_a1, start_date=today, end_date=today, questionnaire=qn))
    url = f"/api/census/campaigns/{campaign.pk}/visits"
    w = as_user(cast.worker_a1)
    pid = str(cast.person_a1.pk)
    wrong = post_json(w, url, {"household_id": cast.hh_a1.pk, "outcome": "reached",
                               "members": {pid: {"q1": "北京", "q2": "x", "q3": "否", "q4": ["咳嗽", "头痛"]}}})
    assert wrong.status_code == 422
    assert {e["field"] for e in wrong.json()["detail"]} == {f"members.{pid}.q1", f"members.{pid}.q2", f"members.{pid}.q4"}
    with django_capture_on_commit_callbacks(execute=True):
        good = post_json(w, url, {"household_id": cast.hh_a1.pk, "outcome": "reached",
                                  "members": {pid: {"q1": "省内", "q2": 3, "q3": "否", "q4": ["乏力", "发热"]}}})
    assert good.status_code == 201, good.content
    assert good.json()["followups"] == 1 and len(alerts_sink) == 1
    answers = dict(Answer.objects.values_list("question__key", "value"))
    assert answers == {"q1": "省内", "q2": "3", "q3": "no", "q4": "发热,乏力"}
    assert FollowUp.objects.get().reason == "症状 发热,乏力"
    # Follow-ups through the API: listed in scope, closed once.
    assert [f["person_name"] for f in w.get("/api/census/followups").json()] == ["靶子甲"]
    assert as_user(cast.worker_b1).get("/api/census/followups").json() == []
    fu = FollowUp.objects.get()
    assert post_json(as_user(cast.worker_b1), f"/api/census/followups/{fu.pk}/done", {"note": "x"}).status_code == 404
    assert post_json(w, f"/api/census/followups/{fu.pk}/done", {"note": "已核实"}).json()["state"] == "done"
    assert post_json(w, f"/api/census/followups/{fu.pk}/done", {"note": "已核实"}).status_code == 409


@pytest.mark.django_db(transaction=True)
def test_a_double_submit_at_the_same_moment_stores_one_visit():
    """Two sends of one phone form at once (same client key): one visit, both answered."""
    import threading

    from django.db import connection

    from tests.cast import build_cast

    cast = build_cast()
    campaign = make_campaign(cast.comm_a)
    body = {"household_id": cast.hh_a1.pk, "outcome": "reached", "members": {str(cast.person_a1.pk): SAFE},
            "client_key": "same-form"}
    barrier = threading.Barrier(2)
    results = []

    def go():
        c = as_user(cast.worker_a1)
        barrier.wait()
        resp = post_json(c, f"/api/census/campaigns/{campaign.pk}/visits", body)
        results.append((resp.status_code, resp.json().get("id")))
        connection.close()

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(code for code, _id in results) == [200, 201], results
    assert len({pk for _code, pk in results}) == 1
    assert Visit.objects.count() == 1 and Answer.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_two_grid_workers_saving_one_household_at_once_keep_both_visits():
    """Two grid workers of grid A1 save a visit of household A1 at the same moment (two
    forms, two client keys): both visits are kept, 户次 2 and 人次 3, the household counted
    reached once; a visit of a household outside one's grid is 404 and stores nothing."""
    import threading

    from django.db import connection

    from tests.cast import build_cast, make_user

    cast = build_cast()
    spouse = add_person(cast, "a1_spouse", name="户主配偶", seq=42, household=cast.hh_a1)
    second = make_user("worker_a1_second", [("grid_worker", cast.grid_a1)])
    campaign = make_campaign(cast.comm_a)
    url = f"/census/{campaign.pk}/visit/"
    forms = [(cast.worker_a1, visit_form(cast.hh_a1, members={cast.person_a1: SAFE}, client_key="form-of-first")),
             (second, visit_form(cast.hh_a1, members={cast.person_a1: SAFE, spouse: SAFE}, client_key="form-of-second"))]
    barrier = threading.Barrier(2)
    results = []

    def go(user, form):
        c = as_user(user)
        barrier.wait()
        results.append(c.post(url, form).status_code)
        connection.close()

    threads = [threading.Thread(target=go, args=f) for f in forms]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [302, 302], results
    visits = Visit.objects.filter(household=cast.hh_a1)
    assert sorted((v.visitor.username, v.persons) for v in visits) == [("worker_a1", 1), ("worker_a1_second", 2)]
    assert Answer.objects.count() == 3 * len(SAFE)  # the four answered questions of each person present
    cov = as_user(cast.committee_a).get(f"/api/census/campaigns/{campaign.pk}/coverage").json()
    assert (cov["household_visits"], cov["person_visits"], cov["reached"]) == (2, 3, 1)
    # Household A2 lies in grid A2: not the worker's.
    assert as_user(cast.worker_a1).post(url, visit_form(cast.hh_a2, members={cast.person_a2: SAFE})).status_code == 404
    assert Visit.objects.count() == 2


GOOD_Q = {"text": "是否发热？", "kind": "yesno", "risk_values": ["yes"]}


@pytest.mark.django_db
@pytest.mark.parametrize("questions, field", [
    ([], "questions"),
    ([GOOD_Q] * 51, "questions"),
    ([{"kind": "yesno"}, GOOD_Q], "questions.0.text"),                     # no text: named, not dropped
    ([GOOD_Q, {"text": "   ", "kind": "single", "choices": ["a", "b"]}], "questions.1.text"),
    ([GOOD_Q, {"text": "x" * 301, "kind": "text"}], "questions.1.text"),
    ([{"text": "t", "kind": "essay"}], "questions.0.kind"),
    ([{"text": "t", "kind": "single", "choices": ["a"]}], "questions.0.choices"),
    ([{"text": "t", "kind": "single", "choices": ["a", "a"]}], "questions.0.choices"),
    ([{"text": "t", "kind": "multiple", "choices": ["a", "b"], "risk_values": ["c"]}], "questions.0.risk_values"),
    ([{"text": "t", "kind": "text", "choices": ["a", "b"]}], "questions.0.choices"),
    ([{"text": "t", "kind": "yesno", "risk_values": ["maybe"]}], "questions.0.risk_values"),
    ([{"text": "t", "kind": "number", "risk_values": ["yes"]}], "questions.0.risk_values"),
    ([{"text": "t", "kind": "temperature", "risk_at_least": "热"}], "questions.0.risk_at_least"),
    ([{"text": "t", "kind": "yesno", "risk_at_least": 37.3}], "questions.0.risk_at_least"),
    ([{"text": "t", "kind": "number", "risk_at_least": 1e6}], "questions.0.risk_at_least"),
    ([{"key": "Fever!", "text": "t", "kind": "yesno"}], "questions.0.key"),
    ([{"key": "fever", "text": "t", "kind": "yesno"}, {"key": "fever", "text": "u", "kind": "yesno"}], "questions.1.key"),
])
def test_every_bad_questionnaire_definition_names_its_field_and_stores_nothing(cast, questions, field):
    from fangkong.census.models import Questionnaire

    before = Questionnaire.objects.count()
    resp = post_json(as_user(cast.committee_a), "/api/census/questionnaires", {"name": "返乡排查", "questions": questions})
    assert resp.status_code == 422, resp.content
    assert [e["field"] for e in resp.json()["detail"]] == [field]
    assert Questionnaire.objects.count() == before


@pytest.mark.django_db
def test_questionnaire_keys_given_by_an_api_client_are_kept(cast):
    resp = post_json(as_user(cast.committee_a), "/api/census/questionnaires", {"name": "返乡排查", "questions": [
        {"key": "fever", "text": "是否发热？", "kind": "yesno", "risk_values": ["yes"]}, {"text": "其他", "kind": "text"}]})
    assert resp.status_code == 201, resp.content
    assert [q["key"] for q in resp.json()["questions"]] == ["fever", "q2"]


@pytest.mark.django_db
def test_a_form_row_with_choices_but_no_question_is_an_error(cast):
    c = as_user(cast.committee_a)
    resp = c.post("/census/questionnaires/", {"name": "返乡排查", "q-0-text": "是否发热？", "q-0-kind": "yesno",
                                               "q-3-kind": "single", "q-3-choices": "甲,乙"})
    assert resp.status_code == 400
    html = resp.content.decode()
    assert "question-3-errors" in html and "question-0-errors" not in html
