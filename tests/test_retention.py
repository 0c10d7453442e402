"""Retention (issue 15 item 10): with the clock moved forward, what the epidemic no longer
needs goes — an ended observation's health details after FANGKONG_RETAIN_HEALTH_DAYS (30)
and its link to the person after FANGKONG_RETAIN_LINK_DAYS (180), a declaration's likewise
(kept while it backs a credit entry in force), an uploaded list when its job ends — while
the daily figures of past days stay exactly as they were, the pages still open, and the
log and audit trail say what was purged in counts only."""
from __future__ import annotations

import datetime as dt
import io
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client, TestCase
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.core.retention import purge
from fangkong.declarations import actions as declarations
from fangkong.declarations.models import CreditEntry, Declaration
from fangkong.observation import actions
from fangkong.observation.models import Alert, Event, Observation, Report, SupplyRequest
from fangkong.reports.figures import live_counts
from fangkong.residents.models import ImportJob, ImportRowError
from tests.cast import add_person, make_id, make_phone
from tests.matrix.declarations import declaration_data
from tests.test_observation import _policy_table, at  # noqa: F401 (the policy table fixture)

DAY = dt.timedelta(days=1)


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def figures(days) -> dict:
    """Every registered metric's counts for these days, in a comparable form."""
    return {day: {k: sorted(v) for k, v in live_counts(day).items()} for day in days}


def released_observation(cast, clock, key="ret_p", seq=851):
    """Observed 1-3 May 2026 with a fever and symptoms on the first morning (alert handled
    with a note), a supply request, released on 3 May at 09:00 by the medic over HTTP."""
    person = add_person(cast, key, name="留存甲", seq=seq, household=cast.hh_a1)
    clock.set(at(2026, 5, 1, 5, 0))
    obs = actions.start(acting_user=None, person=person, kind=Observation.Kind.HOME, days=2)
    clock.set(at(2026, 5, 1, 8, 0))
    actions.report(acting_user=None, observation=obs, temperature="38.2", symptoms=["cough"], source="self")
    actions.request_supplies(acting_user=None, observation=obs, kind="medicine", text="布洛芬一盒，哮喘喷雾")
    for alert in Alert.objects.filter(observation=obs):
        actions.handle_alert(acting_user=cast.medic_a, alert=alert, note="已服退烧药，体温38.2")
    for d, hh in ((1, 15), (2, 8), (2, 15)):
        clock.set(at(2026, 5, d, hh, 0))
        actions.report(acting_user=None, observation=obs, temperature="36.5", source="self")
    clock.set(at(2026, 5, 3, 9, 0))
    assert as_user(cast.medic_a).post(f"/observation/{obs.pk}/release/", {"note": "转社区随访，住甲一小区"}).status_code == 302
    obs.refresh_from_db()
    assert obs.state == "released" and obs.end_note
    return obs


@pytest.mark.django_db
def test_observation_health_details_then_person_link_go_and_figures_stay(cast, clock, caplog):
    obs = released_observation(cast, clock)
    # Another person, still under observation (started the same day, never released).
    other = actions.start(acting_user=None, person=add_person(cast, "ret_q", name="留存乙", seq=852,
                                                             household=cast.hh_a1),
                          kind=Observation.Kind.HOME, days=14, start_date=dt.date(2026, 5, 1))
    clock.set(at(2026, 5, 2, 16, 0))
    actions.report(acting_user=None, observation=other, temperature="37.9", symptoms=["fatigue"], source="self")
    days = [dt.date(2026, 4, 30) + i * DAY for i in range(6)]
    before = figures(days)
    assert before[dt.date(2026, 5, 1)]["observation.fevers"] and before[dt.date(2026, 5, 3)]["observation.released"]
    assert Report.objects.filter(observation=obs, temperature__isnull=False).count() == 4
    released_at = obs.ended_at

    # 29 days after the release: nothing goes yet.
    clock.set(released_at + 29 * DAY)
    assert purge(released_at + 29 * DAY)["observation"] == {"health": 0, "unlinked": 0}
    assert Report.objects.filter(observation=obs, temperature__isnull=True).count() == 0

    # 31 days after: the health details go, the person stays linked; the running one keeps all.
    clock.set(released_at + 31 * DAY)
    with caplog.at_level(logging.INFO, logger="fangkong.core.retention"):
        assert purge(released_at + 31 * DAY)["observation"] == {"health": 1, "unlinked": 0}
    obs.refresh_from_db()
    assert obs.person_id is not None and obs.end_note == "" and obs.health_cleared_at is not None
    assert list(Report.objects.filter(observation=obs).values_list("temperature", "symptoms")) == [(None, [])] * 4
    assert set(Alert.objects.filter(observation=obs).values_list("detail", "handled_note")) == {("", "")}
    assert Alert.objects.filter(observation=obs).count() == 2  # fever and symptoms: the figures count them
    assert not Event.objects.filter(observation=obs, note__contains="38.2").exists()
    assert not Event.objects.filter(observation=obs, note__contains="甲一小区").exists()
    assert list(SupplyRequest.objects.filter(observation=obs).values_list("text", flat=True)) == [""]
    assert Report.objects.get(observation=other).temperature == Decimal("37.9")
    assert Report.objects.get(observation=other).symptoms == ["fatigue"]
    assert figures(days) == before
    assert "retention: observation health=1 unlinked=0" in caplog.text
    # Nothing personal in the log.
    for secret in ("留存甲", "留存乙", cast.ids["ret_p"], cast.phones["ret_p"], "38.2", "布洛芬"):
        assert secret not in caplog.text
    event = AuditEvent.objects.filter(action="core.retention", detail__rule="observation").latest("pk")
    assert event.user is None and event.detail["health"] == 1 and event.detail["unlinked"] == 0
    # Purging again changes nothing.
    assert purge(released_at + 32 * DAY)["observation"] == {"health": 0, "unlinked": 0}

    # 181 days after: the link to the person goes; the running observation keeps its person.
    clock.set(released_at + 179 * DAY)
    assert purge(released_at + 179 * DAY)["observation"]["unlinked"] == 0
    clock.set(released_at + 181 * DAY)
    assert purge(released_at + 181 * DAY)["observation"] == {"health": 0, "unlinked": 1}
    obs.refresh_from_db()
    other.refresh_from_db()
    assert obs.person_id is None and other.person_id == cast.persons["ret_q"].pk
    assert figures(days) == before

    # The pages and the API of the purged observation still answer.
    committee = as_user(cast.committee_a)
    page = committee.get(f"/observation/{obs.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "留存甲" not in body and cast.persons["ret_p"].id_masked not in body and "38.2" not in body
    assert "已匿名" in body
    board = committee.get("/observation/?state=ended")
    assert board.status_code == 200 and "留存甲" not in board.content.decode()
    assert committee.get("/observation/").status_code == 200
    api = committee.get(f"/api/observations/{obs.pk}")
    assert api.status_code == 200 and api.json()["person_id"] is None and api.json()["person_name"] is None
    assert committee.get("/api/observations?state=ended").status_code == 200
    medic = as_user(cast.medic_a)
    assert medic.post(f"/observation/{obs.pk}/link/").status_code == 409  # nobody to hand a link to


@pytest.mark.django_db
def test_a_hospital_transfer_is_not_over_and_keeps_everything(cast, clock):
    clock.set(at(2026, 5, 1, 8, 0))
    person = add_person(cast, "ret_h", name="留存丙", seq=853, household=cast.hh_a1)
    obs = actions.start(acting_user=None, person=person, kind=Observation.Kind.HOME, days=14)
    actions.report(acting_user=None, observation=obs, temperature="39.0", source="self")
    actions.transition(acting_user=cast.medic_a, observation=obs, action="transfer", note="市第一医院")
    later = at(2026, 5, 1, 9) + 400 * DAY
    clock.set(later)
    assert purge(later)["observation"] == {"health": 0, "unlinked": 0}
    obs.refresh_from_db()
    assert obs.person_id == person.pk and Report.objects.get(observation=obs).temperature == Decimal("39.0")


def submit(cast, key, ip):
    point = declarations.ensure_point(acting_user=cast.committee_a, place=cast.comm_a)
    data = declaration_data(cast, key, temperature="37.8", symptoms=["cough"], risk_area="yes",
                            travel=[{"place": "某市某区", "from": "2026-04-20", "to": "2026-04-22"}])
    return declarations.submit(point=point, data=data, client_ip=ip)


@pytest.mark.django_db
def test_declarations_health_details_then_identity_go_except_behind_a_credit_entry(cast, clock):
    clock.set(at(2026, 5, 1, 10, 0))
    verified, false_, unchecked = (submit(cast, k, f"10.7.0.{i}") for i, k in
                                   enumerate(("person_a1", "person_a1", "person_a1"), 1))
    clock.set(at(2026, 5, 1, 11, 0))
    worker = as_user(cast.worker_a1)
    assert worker.post(f"/declarations/{verified.pk}/verify/", {"note": "电话核实属实"}).status_code == 302
    assert worker.post(f"/declarations/{false_.pk}/match/").status_code == 302  # checked with the person
    assert worker.post(f"/declarations/{false_.pk}/find_false/", {"note": "门岗记录其体温38.5"}).status_code == 302
    entry = CreditEntry.objects.get(declaration=false_)
    checked = Declaration.objects.get(pk=verified.pk).checked_at
    days = [dt.date(2026, 4, 30) + i * DAY for i in range(4)]
    before = figures(days)
    assert before[dt.date(2026, 5, 1)]["declarations.risk"]

    def state(decl):
        d = Declaration.objects.get(pk=decl.pk)
        return {"health": (d.temperature, d.symptoms, d.travel, d.note) != (None, "", [], ""),
                "identity": bool(d.name or d.id_bidx or d.phone_bidx or d.id_masked or d.address),
                "person": d.person_id is not None}

    full = {"health": True, "identity": True, "person": True}
    public = {"health": True, "identity": True, "person": False}  # from the public page, never matched
    for n, expect in ((29, {"health": 0, "unlinked": 0}), (31, {"health": 1, "unlinked": 0})):
        clock.set(checked + n * DAY)
        assert purge(checked + n * DAY)["declarations"] == expect
    assert state(verified) == {"health": False, "identity": True, "person": False}
    assert state(false_) == full and state(unchecked) == public

    clock.set(checked + 181 * DAY)
    assert purge(checked + 181 * DAY)["declarations"] == {"health": 0, "unlinked": 1}
    assert state(verified) == {"health": False, "identity": False, "person": False}
    d = Declaration.objects.get(pk=verified.pk)
    assert (bytes(d.id_enc), bytes(d.phone_enc), d.check_note, d.risk_area, d.risk) == (b"", b"", "", True, True)
    # Behind a credit entry in force: kept whole (the entry's evidence, open to appeal).
    assert state(false_) == full
    # Never checked: it ends 180 days after its submission, so it is untouched yet.
    assert state(unchecked) == public
    assert figures(days) == before

    # Pages of the purged declaration and of the credit entry still open.
    committee = as_user(cast.committee_a)
    page = committee.get(f"/declarations/{verified.pk}/")
    assert page.status_code == 200 and cast.persons["person_a1"].name not in page.content.decode()
    assert committee.get("/declarations/").status_code == 200
    assert committee.get(f"/credit/{entry.pk}/").status_code == 200

    # The entry revoked: its declaration goes like any other at the next purge; and the
    # never-checked one 180 + 181 days after it was submitted.
    CreditEntry.objects.filter(pk=entry.pk).update(state=CreditEntry.State.REVOKED, revoked_at=checked)
    later = at(2026, 5, 1, 10) + 361 * DAY
    clock.set(later)
    assert purge(later)["declarations"] == {"health": 2, "unlinked": 2}
    assert state(false_) == state(unchecked) == {"health": False, "identity": False, "person": False}
    assert figures(days) == before


@pytest.mark.django_db
def test_uploaded_lists_go_when_the_job_ends_and_errors_later(cast, login, settings, tmp_path):
    settings.IMPORT_DIR = tmp_path
    from tests.test_import import csv_bytes, row, run, upload

    committee = login(cast.committee_a)
    job = run(committee, cast, csv_bytes([row(860, "导入甲"), ["导入乙", "123", "", "", "A1", ""]]))
    assert job.status == "done" and job.error_count == 1 and ImportRowError.objects.filter(job=job).exists()
    assert job.stored_path == "" and list(tmp_path.iterdir()) == []
    # An upload never confirmed: its file stays a day, then goes; the job can no longer start.
    assert upload(committee, cast, csv_bytes([row(861, "导入丙")])).status_code == 302
    waiting = ImportJob.objects.latest("pk")
    stored = Path(waiting.stored_path)
    assert stored.exists()
    now = timezone.now()
    assert purge(now)["residents.import"] == {"abandoned": 0, "files": 0, "errors": 0}
    assert stored.exists()
    assert purge(now + 2 * DAY)["residents.import"] == {"abandoned": 1, "files": 0, "errors": 0}
    waiting.refresh_from_db()
    assert not stored.exists() and waiting.stored_path == "" and waiting.status == "abandoned"
    post = {f"col_{k}": v for k, v in waiting.mapping.items()}
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert committee.post(f"/residents/import/{waiting.pk}/start/", post).status_code == 409
    page = committee.get(f"/residents/import/{waiting.pk}/")
    assert page.status_code == 200 and "上传的文件已删除" in page.content.decode()
    # The row errors of a finished job go after the health period.
    assert purge(now + 31 * DAY)["residents.import"] == {"abandoned": 0, "files": 0, "errors": 1}
    assert not ImportRowError.objects.filter(job=job).exists()
    job.refresh_from_db()
    assert job.error_count == 1  # the count stays
    assert committee.get(f"/residents/import/{job.pk}/").status_code == 200


@pytest.mark.django_db
def test_the_command_prints_counts_and_dry_run_changes_nothing(cast, clock):
    obs = released_observation(cast, clock)
    when = (obs.ended_at + 31 * DAY).isoformat()
    out = io.StringIO()
    call_command("purge_retention", "--now", when, "--dry-run", stdout=out)
    assert "observation: health=1 unlinked=0 (dry run)" in out.getvalue()
    assert Report.objects.filter(observation=obs, temperature__isnull=True).count() == 0
    assert not AuditEvent.objects.filter(action="core.retention").exists()
    out = io.StringIO()
    call_command("purge_retention", "--now", when, stdout=out)
    text = out.getvalue()
    assert "observation: health=1 unlinked=0" in text and "declarations: health=0 unlinked=0" in text
    assert "residents.import: abandoned=0 files=0 errors=0" in text
    assert "留存甲" not in text and make_id(851) not in text and make_phone(851) not in text
    assert Report.objects.filter(observation=obs, temperature__isnull=True).count() == 4
    with pytest.raises(Exception, match="--now"):
        call_command("purge_retention", "--now", "yesterday")
    # The worker's daily task runs the same purge.
    from fangkong.core.tasks import purge_retention

    assert purge_retention.call_local()["observation"] == {"health": 0, "unlinked": 0}


@pytest.mark.django_db
def test_a_staff_list_goes_when_its_onboarding_ends_and_its_rows_not_onboarded_later(cast, login, settings, tmp_path):
    from fangkong.accounts.models import OnboardingJob, OnboardingRow
    from tests.test_staff import onboard, sheet

    settings.IMPORT_DIR = tmp_path
    client = login(cast.committee_a)
    job = onboard(client, cast.comm_a, sheet([["留存丁", "13600000071", "grid_worker", "A1", "", ""],
                                             ["留存戊", "12345", "grid_worker", "A1", "", ""]]))
    assert (job.status, job.created_count, job.error_count) == ("done", 1, 1)
    assert job.stored_path == "" and list(tmp_path.iterdir()) == []
    page = client.get(f"/staff/onboard/{job.pk}/")
    assert page.status_code == 200 and "上传的文件已删除" in page.content.decode()
    now = timezone.now()
    assert purge(now + 29 * DAY)["accounts.onboarding"] == {"files": 0, "errors": 0}
    assert purge(now + 31 * DAY)["accounts.onboarding"] == {"files": 0, "errors": 1}
    assert list(OnboardingRow.objects.filter(job=job).values_list("outcome", flat=True)) == ["created"]  # the QR sheet's
    report = client.get(f"/staff/onboard/{job.pk}/errors.csv")
    assert report.status_code == 200 and b"".join(report.streaming_content).decode("utf-8-sig").count("\n") == 1  # header
    assert OnboardingJob.objects.get(pk=job.pk).error_count == 1


# --- Return applications and transfer requests ---------------------------------------------

@pytest.mark.django_db
def test_an_ended_application_loses_its_health_check_then_its_person(cast, clock):
    """Applied, approved, arrived on 1 May 2026 with a temperature: 29 days on nothing goes;
    31 days on the arrival's temperature and health check go (and the history's note that
    holds it); 181 days on the person, the name and masked ID, the household and every note
    go. The daily figures of those days stay; the pages still open."""
    from fangkong.inflow import actions as inflow
    from fangkong.inflow.models import Application, Origin
    from fangkong.inflow.models import Event as InflowEvent

    origin = Origin.objects.create(name="外省", risk="none")
    clock.set(at(2026, 5, 1, 8, 0))
    app = inflow.apply(acting_user=cast.committee_a, employer=None, place=cast.compound_a1, address="甲一小区7号楼",
                       origin=origin, person_fields={"name": "返乡丁", "id_number": make_id(861), "phone": make_phone(861)})
    for step, kwargs in (("forward", {}), ("approve", {}), ("travel", {"planned_arrival": dt.date(2026, 5, 1)}),
                         ("arrive", {"temperature": "36.8", "healthy": True})):
        app = inflow.transition(acting_user=cast.committee_a, app=app, action=step, **kwargs)
    rejected = inflow.apply(acting_user=cast.committee_a, employer=None, place=cast.compound_a1, address="甲一小区8号楼",
                            origin=origin, person_fields={"name": "返乡戊", "id_number": make_id(862), "phone": make_phone(862)})
    inflow.transition(acting_user=cast.committee_a, app=rejected, action="forward")
    inflow.transition(acting_user=cast.committee_a, app=rejected, action="reject", reason="返乡戊未说明行程")
    days = [dt.date(2026, 5, 1)]
    before = figures(days)

    purge(now=at(2026, 5, 30, 9, 0))
    app.refresh_from_db()
    assert app.arrival_temperature == Decimal("36.8") and app.person is not None

    purge(now=at(2026, 6, 1, 9, 0))
    app.refresh_from_db()
    assert app.arrival_temperature is None and app.arrival_healthy is None and app.person_name == "返乡丁"
    assert not InflowEvent.objects.filter(application=app, action="arrive").exclude(note="").exists()

    purge(now=at(2026, 10, 29, 9, 0))
    for a in (app, rejected):
        a.refresh_from_db()
        assert (a.person_id, a.person_name, a.person_id_masked, a.household_id, a.decision_reason) == (None, "", "", None, "")
        assert not InflowEvent.objects.filter(application=a).exclude(note="").exists()
    assert figures(days) == before
    page = as_user(cast.committee_a).get(f"/inflow/{app.pk}/")
    assert page.status_code == 200 and "返乡丁" not in page.content.decode()
    assert as_user(cast.committee_a).get(f"/api/inflow/{app.pk}").status_code == 200
    assert Application.objects.count() == 2


@pytest.mark.django_db
def test_a_decided_transfer_request_forgets_whom_it_was_about(cast, clock):
    from fangkong.residents import transfers

    clock.set(at(2026, 5, 1, 8, 0))
    t = transfers.request(acting_user=cast.committee_b, person=cast.person_a2, typed_name="靶子乙", to_place=cast.grid_b1,
                          address="乙一网格5号", reason="租住本社区")
    waiting = transfers.request(acting_user=cast.committee_b, person=cast.person_a1, typed_name="靶子甲",
                                to_place=cast.grid_b1, address="乙一网格6号", reason="租住本社区")
    transfers.decide(acting_user=cast.committee_a, transfer=t, action="decline", reason="本人仍住本社区")
    purge(now=at(2026, 10, 27, 9, 0))
    t.refresh_from_db()
    assert t.person_id is not None
    purge(now=at(2026, 10, 29, 9, 0))
    t.refresh_from_db()
    waiting.refresh_from_db()
    assert (t.person_id, t.typed_name, t.id_masked, t.address, t.reason, t.decision_reason) == (None, "", "", "", "", "")
    assert waiting.person_id == cast.person_a1.pk and waiting.typed_name == "靶子甲"
