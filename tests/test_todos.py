"""To-dos (lib.registry.todos): what each module contributes, for the right cast member
with the right count and never for another community; the order (overdue first, then
urgency, then deadline); the home page and GET /api/todos list the same."""
from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from fangkong.census import actions as census
from fangkong.declarations import actions as declarations
from fangkong.inflow.models import Application
from fangkong.lib import registry
from fangkong.observation.models import Alert, Observation, SupplyRequest
from fangkong.reports import actions as reports
from tests.matrix import census as census_objects
from tests.matrix import declarations as declaration_objects
from tests.matrix import clinic as clinic_objects
from tests.matrix import inflow as inflow_objects
from tests.matrix import observation as observation_objects
from tests.matrix import passes as pass_objects
from tests.matrix import reports as report_objects


def counts(user) -> dict[str, int]:
    return {t.key: t.count for t in registry.todos(user)}


def as_user(user) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_self_declaration_todos(cast):
    declaration_objects.declaration(cast)  # risky (a symptom)
    declarations.submit(point=declaration_objects.point(cast), client_ip="10.8.0.1",
                        data=declaration_objects.declaration_data(cast, key="person_a1", symptoms=["none"], address="甲一小区2号"))
    declaration_objects.finding(cast)
    declaration_objects.appeal(cast)
    for user in (cast.worker_a1, cast.committee_a):
        assert counts(user)["declarations.verify_risk"] == 1 and counts(user)["declarations.verify"] == 1
    assert counts(cast.committee_a)["declarations.confirm"] == 1
    assert counts(cast.committee_a)["credit.appeals"] == 1
    assert "declarations.confirm" not in counts(cast.worker_a1)  # confirming is the committee's
    for user in (cast.worker_b1, cast.committee_b, cast.commander, cast.medic_a):
        assert not any(k.startswith(("declarations.", "credit.")) for k in counts(user)), user


@pytest.mark.django_db
def test_inflow_todos_follow_the_link_each_application_waits_for(cast):
    now = timezone.now()
    review = inflow_objects.application(cast)  # forwarded, review due now
    assert counts(cast.committee_a)["inflow.review"] == 1
    todo = next(t for t in registry.todos(cast.committee_a) if t.key == "inflow.review")
    assert todo.overdue and todo.due == review.due_at and todo.url == "/inflow/?state=queue"
    Application.objects.filter(pk=review.pk).update(state="submitted", due_link="forward", due_at=now + dt.timedelta(minutes=10))
    assert counts(cast.coordinator)["inflow.forward"] == 1 and "inflow.review" not in counts(cast.committee_a)
    Application.objects.filter(pk=review.pk).update(state="approved", due_link="travel")
    assert counts(cast.liaison_x)["inflow.travel"] == 1
    Application.objects.filter(pk=review.pk).update(state="travelling", due_link="arrive", due_at=now)  # due today (now + 1 h may be tomorrow after 23:00)
    tomorrow_evening = timezone.make_aware(dt.datetime.combine(timezone.localdate() + dt.timedelta(days=2), dt.time(1)))
    for user in (cast.committee_a, cast.worker_a1):
        assert counts(user)["inflow.arrive"] == 1
    Application.objects.filter(pk=review.pk).update(due_at=tomorrow_evening)
    assert "inflow.arrive" not in counts(cast.committee_a)  # due on a later day: not yet
    Application.objects.filter(pk=review.pk).update(state="more_info", due_link="", due_at=None)
    assert counts(cast.liaison_x)["inflow.resubmit"] == 1
    assert "inflow.resubmit" not in counts(cast.committee_a)  # the unit applied, not the committee
    for user in (cast.committee_b, cast.worker_b1, cast.guard_a):
        assert not any(k.startswith("inflow.") for k in counts(user)), user


@pytest.mark.django_db
def test_observation_todos(cast, settings):
    settings.OBSERVATION_WINDOWS = [(dt.time(0, 0), dt.time(23, 59, 59, 999999))]  # a window is open now
    obs = observation_objects.observation(cast)
    other = observation_objects.observation(cast)
    Alert.objects.create(observation=obs, kind=Alert.Kind.FEVER, day=timezone.localdate(), window=0, detail="38.5")
    Alert.objects.create(observation=other, kind=Alert.Kind.MISSED, day=timezone.localdate(), window=0)
    SupplyRequest.objects.create(observation=obs, kind="medicine", text="退烧药")
    for user in (cast.committee_a, cast.worker_a1, cast.medic_a):
        c = counts(user)
        assert (c["observation.fever"], c["observation.missed"], c["observation.reports"], c["observation.supplies"]) == (1, 1, 2, 1)
    Observation.objects.filter(pk=obs.pk).update(planned_end=timezone.localdate())
    assert counts(cast.medic_a)["observation.release"] == 1 and "observation.release" not in counts(cast.committee_a)
    for user in (cast.committee_b, cast.worker_b1, cast.commander):
        assert not any(k.startswith("observation.") for k in counts(user)), user


@pytest.mark.django_db
def test_census_todos(cast):
    census_objects.followup(cast)  # a running campaign over grid A1 whose only household was reached
    assert counts(cast.worker_a1)["census.followups"] == 1
    campaign = census_objects.campaign(cast)  # a second campaign: household A1 not yet reached in it
    key = f"census.pending.{campaign.pk}"
    assert counts(cast.worker_a1)[key] == 1 and counts(cast.committee_a)[key] == 1
    assert not any(k.startswith("census.pending") and k != key for k in counts(cast.worker_a1))
    census.record_visit(acting_user=None, campaign=campaign, household=cast.hh_a1, outcome="reached",
                        members={cast.person_a1.pk: {"source_area": "no", "contact_source": "no",
                                                     "contact_confirmed": "no", "gathering": "no"}})
    assert key not in counts(cast.worker_a1)
    for user in (cast.worker_b1, cast.committee_b, cast.medic_a):
        assert not any(k.startswith("census.") for k in counts(user)), user


@pytest.mark.django_db
def test_pass_override_and_gate_triage_todos(cast):
    pass_objects.override(cast)  # requested by committee A: approved by another person
    clinic_objects.gate_visit(cast)
    assert counts(cast.medic_a)["passes.overrides"] == 1 and counts(cast.commander)["passes.overrides"] == 1
    assert "passes.overrides" not in counts(cast.committee_a)  # never one's own request
    assert counts(cast.medic_a)["clinic.waiting"] == 1 and counts(cast.committee_a)["clinic.waiting"] == 1
    for user in (cast.committee_b, cast.worker_a1, cast.guard_a):
        c = counts(user)
        assert "passes.overrides" not in c and "clinic.waiting" not in c, user


@pytest.mark.django_db
def test_daily_report_todos(cast, settings):
    report_objects.submission(cast)  # defines the employer figure "masks" (and files it for a new unit)
    todo = next(t for t in registry.todos(cast.liaison_x) if t.key == "reports.enter")
    assert todo.count == 1 and todo.due == reports.deadline(timezone.localdate()) and todo.url == "/reports/entry/"
    sub = reports.enter_values(acting_user=cast.liaison_x, organization=cast.org_x, day=timezone.localdate(), values={d.key: 5 for d in reports.definitions_for(cast.org_x)})
    assert counts(cast.liaison_x)["reports.enter"] == 1  # entered, not yet confirmed
    reports.transition(acting_user=cast.liaison_x, submission=sub, action="confirm")
    assert "reports.enter" not in counts(cast.liaison_x)
    # Past the deadline: unit Y (community B) has entered nothing, the matrix's unit (grid A1)
    # has not confirmed; unit X confirmed (after the deadline now, but nothing is left to do).
    settings.REPORT_DEADLINE = dt.time(0, 0)
    late = next(t for t in registry.todos(cast.coordinator) if t.key == "reports.late")
    assert late.overdue and late.count == 2 and late.url == "/reports/late/"
    assert counts(cast.committee_a)["reports.late"] == 1 and counts(cast.committee_b)["reports.late"] == 1
    assert "reports.late" not in counts(cast.liaison_x) and "reports.late" not in counts(cast.worker_a1)
    assert "reports.enter" not in counts(cast.committee_a)


@pytest.mark.django_db
def test_most_urgent_first_and_the_same_on_the_home_page_and_the_api(cast, settings):
    settings.OBSERVATION_WINDOWS = [(dt.time(0, 0), dt.time(23, 59, 59, 999999))]
    settings.REPORT_DEADLINE = dt.time(23, 59, 59, 999999)  # whenever it runs, units are not late yet
    inflow_objects.application(cast)  # review overdue
    obs = observation_objects.observation(cast)
    Alert.objects.create(observation=obs, kind=Alert.Kind.FEVER, day=timezone.localdate(), window=0, detail="38.5")
    declaration_objects.declaration(cast)
    declaration_objects.finding(cast)
    clinic_objects.gate_visit(cast)
    keys = [t.key for t in registry.todos(cast.committee_a)]
    assert keys == ["inflow.review", "observation.fever", "clinic.waiting", "observation.reports",
                    "declarations.verify_risk", "declarations.confirm"]
    client = as_user(cast.committee_a)
    body = client.get("/api/todos").json()
    assert [(t["key"], t["count"], t["overdue"]) for t in body] == [
        (t.key, t.count, t.overdue) for t in registry.todos(cast.committee_a)]
    assert body[0]["label"] == "Return applications to review" and body[0]["url"] == "/inflow/?state=queue"
    html = client.get("/").content.decode()
    listed = html[html.index('id="todos"'):]
    assert [k for k in keys if f'data-key="{k}"' in listed] == keys
    assert listed.index('data-key="inflow.review"') < listed.index('data-key="declarations.confirm"')
    assert "Overdue" in listed and "Return applications to review" in listed
    assert 'id="todos-none"' in as_user(cast.committee_b).get("/").content.decode()
    assert as_user(cast.committee_b).get("/api/todos").json() == []
    assert Client().get("/api/todos").status_code == 401


def test_order_overdue_then_rank_then_deadline_then_count():
    now = timezone.now()
    todo = registry.Todo
    items = [
        todo("late", "", 1, "/", due=now - dt.timedelta(hours=1), rank=registry.RANK_ROUND, overdue=True),
        todo("fever", "", 1, "/", rank=registry.RANK_HEALTH),
        todo("due-soon", "", 1, "/", due=now + dt.timedelta(minutes=5), rank=registry.RANK_DEADLINE),
        todo("due-later", "", 9, "/", due=now + dt.timedelta(hours=5), rank=registry.RANK_DEADLINE),
        todo("queue-big", "", 9, "/"),
        todo("queue-small", "", 2, "/"),
    ]
    assert [t.key for t in sorted(reversed(items), key=registry.Todo.sort_key)] == [t.key for t in items]
