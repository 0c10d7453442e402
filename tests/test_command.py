"""Command (M17, issue 21 items 1-5, 9): notices with gapless serials and two-step receipts,
decisions followed up, inspections and findings, entrances sealed (the gates refuse them),
daily figures; and the issue's "Must hold" story end to end."""
from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from fangkong.command import actions
from fangkong.command.models import AccessPoint, Decision, Finding, Notice, Receipt
from fangkong.gates.models import GateEntry
from fangkong.lib import registry
from fangkong.lib.workflow import Conflict, Invalid
from fangkong.places.actions import create_place
from tests.cast import make_user

TODAY = dt.date.today


@pytest.fixture
def alerts():
    got = []
    sink = registry.register_alert_sink(got.append)
    yield got
    registry._SINKS.remove(sink)


@pytest.fixture
def hq(cast):
    return actions.create_hq(acting_user=cast.admin, place=cast.street, name="测试街道疫情防控指挥部")


def _post(client, url, data=None):
    return client.post(url, data or {})


def _json(client, url, data):
    return client.post(url, data=json.dumps(data), content_type="application/json")


def _submitted(hq, cast, title="关于实行小区半封闭管理的通告", places=None, **kw):
    n = actions.draft_notice(acting_user=cast.coordinator, hq=hq, title=title, body="各小区实行半封闭管理。",
                             places=places if places is not None else [cast.comm_a, cast.comm_b], **kw)
    return actions.notice_action(acting_user=cast.coordinator, notice=n, action="submit")


def _checkpoint(cast, name="甲一小区东门", code=None):
    return create_place(acting_user=None, kind="checkpoint", name=name, code=code or f"CP-{uuid.uuid4().hex[:8]}",
                        parent=cast.compound_a1)


# --- Notices ------------------------------------------------------------------------------

def test_only_a_commander_publishes_and_a_published_notice_is_never_edited(cast, hq, login):
    n = _submitted(hq, cast)
    client = login(cast.coordinator)
    assert _post(client, f"/command/notices/{n.pk}/publish/").status_code == 403
    assert Notice.objects.get(pk=n.pk).state == "submitted"
    client = login(cast.commander)
    resp = _post(client, f"/command/notices/{n.pk}/publish/")
    assert resp.status_code == 302
    n.refresh_from_db()
    assert n.state == "published" and n.serial == f"〔{timezone.localdate().year}〕1号" and n.document_id
    assert sorted(r.place_id for r in n.receipts.all()) == sorted([cast.comm_a.pk, cast.comm_b.pk])
    # Published: the edit is refused with the reason (409), and so is a second publication.
    client = login(cast.coordinator)
    resp = client.post(f"/command/notices/{n.pk}/edit/", {"title": "改", "body": "改", "kind": "announcement",
                                                          "places": [cast.comm_a.pk]})
    assert resp.status_code == 409
    assert Notice.objects.get(pk=n.pk).title == "关于实行小区半封闭管理的通告"
    with pytest.raises(Conflict):
        actions.publish(acting_user=cast.commander, notice=n)
    # The PDF carries the serial (documents): downloadable by the HQ.
    resp = login(cast.commander).get(f"/command/notices/{n.pk}/pdf/")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"


def test_the_notice_number_is_the_serial_printed_at_the_top_of_its_pdf(cast, hq, login, tmp_path):
    import subprocess

    from django.urls import reverse

    from fangkong.documents.models import Document

    actions.publish(acting_user=cast.commander, notice=_submitted(hq, cast, title="关于暂停公共场所营业的通告"))
    n = actions.publish(acting_user=cast.commander, notice=_submitted(hq, cast))
    number = f"〔{timezone.localdate().year}〕2号"
    assert n.serial == number
    doc = Document.objects.get(pk=n.document_id)
    assert doc.number == number and doc.shown_serial == number and doc.content_intact()
    resp = login(cast.commander).get(f"/command/notices/{n.pk}/pdf/")
    assert resp.status_code == 200
    pdf = tmp_path / "notice.pdf"
    pdf.write_bytes(b"".join(resp.streaming_content) if resp.streaming else resp.content)
    lines = [ln.strip() for ln in subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                                                  check=True).stdout.splitlines() if ln.strip()]
    # The first line of the page is the notice's number, then its title; the registry serial
    # only in the footer (as the verify page shows it), never as a field of the table.
    assert lines[0] == number, lines[:3]
    assert "关于实行小区半封闭管理的通告" in lines[1]
    assert [i for i, ln in enumerate(lines) if doc.serial in ln] == [len(lines) - 1], lines
    assert sum(number in ln for ln in lines) == 1
    verify = login(cast.nogrant).get(reverse("document_verify", kwargs={"code": doc.code})).content.decode()
    assert number in verify and doc.serial in verify


def test_publish_from_draft_is_409_and_withdraw_needs_a_reason(cast, hq, login):
    n = actions.draft_notice(acting_user=cast.coordinator, hq=hq, title="通知", body="正文", places=[cast.comm_a])
    client = login(cast.commander)
    assert _post(client, f"/command/notices/{n.pk}/publish/").status_code == 409
    n = actions.notice_action(acting_user=cast.coordinator, notice=n, action="submit")
    n = actions.publish(acting_user=cast.commander, notice=n)
    with pytest.raises(Invalid) as exc:
        actions.notice_action(acting_user=cast.commander, notice=n, action="withdraw", reason=" ")
    assert "reason" in exc.value.errors
    resp = _json(client, f"/api/command/notices/{n.pk}/withdraw", {"reason": "疫情缓解"})
    assert resp.status_code == 200 and resp.json()["state"] == "withdrawn"
    # No longer in force: receipts cannot be confirmed any more.
    with pytest.raises(Conflict):
        actions.confirm(acting_user=cast.committee_a, receipt=n.receipts.get(place=cast.comm_a), step="read")


def test_drafting_through_the_api_names_the_bad_field(cast, hq, login):
    client = login(cast.coordinator)
    bad = _json(client, "/api/command/notices", {"title": "通告", "body": "正文", "places": [cast.comm_a.pk, 999999]})
    assert bad.status_code == 422 and "places" in json.dumps(bad.json()) and not Notice.objects.exists()
    outside = _json(client, "/api/command/notices", {"title": "通告", "body": "正文", "places": [cast.grid_a1.pk]})
    assert outside.status_code == 422 and not Notice.objects.exists()
    ok = _json(client, "/api/command/notices", {"title": "通告", "body": "正文", "places": [cast.comm_a.pk]})
    assert ok.status_code == 201 and ok.json()["state"] == "draft"
    assert login(cast.committee_a).post("/api/command/notices", data="{}", content_type="application/json").status_code == 403


def test_supersede_marks_the_old_notice(cast, hq):
    old = actions.publish(acting_user=cast.commander, notice=_submitted(hq, cast, title="旧"))
    new = actions.publish(acting_user=cast.commander, notice=_submitted(hq, cast, title="新", supersedes=old))
    old.refresh_from_db()
    assert old.state == "superseded" and new.serial in old.end_reason
    assert list(actions.in_force(Notice.objects.all())) == [new]


def test_serials_are_gapless_per_issuer_and_year_and_a_failed_publication_leaves_no_gap(cast, hq):
    a = actions.publish(acting_user=cast.commander, notice=_submitted(hq, cast, title="一"))
    empty = _submitted(hq, cast, title="无收件人", places=[])
    with pytest.raises(Invalid):
        actions.publish(acting_user=cast.commander, notice=empty)  # rolled back: its number is not used
    b = actions.publish(acting_user=cast.commander, notice=_submitted(hq, cast, title="二"))
    assert (a.serial_no, b.serial_no) == (1, 2)
    # Another issuer counts on its own.
    district = create_place(acting_user=None, kind="street", name="另一街道", code="S2", parent=None)
    other = actions.create_hq(acting_user=None, place=district, name="另一指挥部")
    comm = create_place(acting_user=None, kind="community", name="丙社区", code="C2", parent=district)
    n = actions.draft_notice(acting_user=None, hq=other, title="一", body="x", places=[comm])
    n = actions.notice_action(acting_user=None, notice=n, action="submit")
    assert actions.publish(acting_user=None, notice=n).serial_no == 1


@pytest.mark.django_db(transaction=True)
def test_two_notices_published_at_once_get_two_numbers():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    from tests.cast import build_cast

    cast = build_cast()
    hq = actions.create_hq(acting_user=None, place=cast.street, name="指挥部")
    notices = [_submitted(hq, cast, title=f"通告{i}") for i in range(4)]
    barrier = threading.Barrier(4)
    errors = []

    def run(n):
        from django.db import connection as conn

        try:
            barrier.wait()
            actions.publish(acting_user=None, notice=n)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in notices]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    assert sorted(Notice.objects.values_list("serial_no", flat=True)) == [1, 2, 3, 4]


def test_a_committee_confirms_receipts_only_for_its_own_community(cast, hq, login, alerts,
                                                                  django_capture_on_commit_callbacks):
    n = actions.publish(acting_user=cast.commander, notice=_submitted(hq, cast))
    ra, rb = n.receipts.get(place=cast.comm_a), n.receipts.get(place=cast.comm_b)
    client = login(cast.committee_a)
    assert _post(client, f"/command/receipts/{rb.pk}/read/").status_code == 404
    assert _post(client, f"/command/receipts/{ra.pk}/done/", {"note": "已落实"}).status_code == 409  # read first
    assert _post(client, f"/command/receipts/{ra.pk}/read/").status_code == 302
    assert _post(client, f"/command/receipts/{ra.pk}/done/").status_code == 400  # a note is needed
    assert _post(client, f"/command/receipts/{ra.pk}/done/", {"note": "已张贴并落实"}).status_code == 302
    ra.refresh_from_db()
    assert ra.state == "done" and ra.done_note == "已张贴并落实"
    assert Receipt.objects.get(pk=rb.pk).state == "sent"
    # The receipts page lists only one's own; the laggard is reminded through the channels.
    page = client.get("/command/receipts/").content.decode()
    assert "乙社区" not in page
    alerts.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.remind(acting_user=cast.commander, notice=n) == 1
    assert [a.kind for a in alerts] == ["command.receipt_late"] and alerts[0].place_path == cast.comm_b.path
    assert Receipt.objects.get(pk=rb.pk).reminders == 1
    tracking = login(cast.commander).get(f"/api/command/notices/{n.pk}/receipts").json()
    assert [(r["recipient"], r["state"], r["reminders"]) for r in tracking] == [("乙社区", "sent", 1), ("甲社区", "done", 0)]
    # The committee's to-do list names it.
    keys = {t.key for t in registry.todos(cast.committee_b)}
    assert "command.receipt_read" in keys


def test_notices_in_force_shown_to_everyone_in_scope_and_to_the_hotline_list(cast, hq, login):
    n = actions.publish(acting_user=cast.commander, notice=_submitted(hq, cast))
    for user in (cast.worker_a1, cast.committee_b, cast.medic_a):
        body = login(user).get("/api/command/notices/in-force").json()
        assert [x["serial"] for x in body] == [n.serial]
    assert n.title in login(cast.worker_a1).get("/command/notices/in-force/").content.decode()


# --- Working groups: membership as access -------------------------------------------------

def test_a_working_group_member_sees_the_street_until_it_leaves_the_group(cast, hq, login):
    from fangkong.accounts.actions import grant_role
    from fangkong.audit.models import AuditEvent
    from fangkong.places.models import Grant

    group = actions.add_group(acting_user=cast.coordinator, hq=hq, name="社区防控组", remit="小区封闭管理")
    member = make_user("hq_member_zhang")
    # Another street with its own headquarters and a meeting: never seen by S's members.
    other = create_place(acting_user=None, kind="street", name="另一街道", code="T", parent=None)
    other_hq = actions.create_hq(acting_user=cast.admin, place=other, name="另一街道指挥部")
    other_group = actions.add_group(acting_user=None, hq=other_hq, name="另一工作组")
    other_meeting = actions.create_meeting(acting_user=None, hq=other_hq, date=TODAY())

    client = login(member)
    assert client.get("/dashboard/").status_code == 403  # not yet a member
    assert client.get(f"/dashboard/{cast.street.pk}/").status_code == 403
    assert client.get("/command/").status_code == 403

    # The coordinator adds it; a committee may not (403), nor S's coordinator to T's group (404).
    url = f"/command/groups/{group.pk}/members/"
    assert _post(login(cast.committee_a), url, {"username": member.username, "action": "add"}).status_code == 403
    assert _post(login(cast.coordinator), f"/command/groups/{other_group.pk}/members/",
                 {"username": member.username, "action": "add"}).status_code == 404
    assert not other_group.members.filter(pk=member.pk).exists()
    assert _post(login(cast.coordinator), url, {"username": "nobody", "action": "add"}).status_code == 400
    assert _post(login(cast.coordinator), url, {"username": member.username, "action": "add"}).status_code == 302
    assert group.members.filter(pk=member.pk).exists()
    assert _post(login(cast.coordinator), url, {"username": member.username, "action": "add"}).status_code == 409
    assert AuditEvent.objects.filter(action="command.group.join", object_id=str(group.pk)).count() == 1

    client = login(member)
    page = client.get("/dashboard/")
    assert page.status_code == 200 and cast.street.name in page.content.decode()
    for place in (cast.street, cast.comm_a, cast.comm_b, cast.grid_b1):  # the whole street
        assert client.get(f"/dashboard/{place.pk}/").status_code == 200
    assert client.get(f"/api/dashboard/{cast.comm_b.pk}").status_code == 200
    board = client.get("/command/")
    assert board.status_code == 200 and hq.name in board.content.decode()
    assert other_hq.name not in board.content.decode()
    # Another street's HQ and its area: 404.
    assert client.get(f"/dashboard/{other.pk}/").status_code == 404
    assert client.get(f"/command/meetings/{other_meeting.pk}/").status_code == 404
    # Membership is no grant: nothing was copied into the grants, it cannot be granted, it
    # publishes nothing, and a person outside the group (no grant) is still refused.
    assert not Grant.objects.filter(user=member).exists()
    with pytest.raises(Invalid):
        grant_role(acting_user=cast.admin, user=member, role="hq_member", target=cast.street)
    assert client.get("/command/notices/").status_code == 403
    assert login(cast.nogrant).get("/dashboard/").status_code == 403

    # Leaving the group ends it at once.
    assert _post(login(cast.coordinator), url, {"username": member.username, "action": "remove"}).status_code == 302
    assert AuditEvent.objects.filter(action="command.group.leave", object_id=str(group.pk)).count() == 1
    client = login(member)
    assert client.get("/dashboard/").status_code == 403
    assert client.get(f"/dashboard/{cast.street.pk}/").status_code == 403
    assert client.get("/command/").status_code == 403
    assert _post(login(cast.coordinator), url, {"username": member.username, "action": "remove"}).status_code == 409


# --- Decisions ----------------------------------------------------------------------------

def test_decisions_followed_up_and_carried_over(cast, hq, login):
    group = actions.add_group(acting_user=cast.coordinator, hq=hq, name="社区防控组", remit="小区封闭管理",
                              leader=cast.coordinator)
    m1 = actions.create_meeting(acting_user=cast.coordinator, hq=hq, date=TODAY() - dt.timedelta(days=2))
    d = actions.add_decision(acting_user=cast.coordinator, meeting=m1, text="封闭次要出入口", deadline=m1.date,
                             owner_group=group)
    with pytest.raises(Invalid):
        actions.add_decision(acting_user=cast.coordinator, meeting=m1, text="无主", deadline=m1.date)
    m2 = actions.create_meeting(acting_user=cast.coordinator, hq=hq, date=TODAY())
    assert list(actions.carried_over(m2)) == [d]
    page = login(cast.coordinator).get(f"/command/meetings/{m2.pk}/").content.decode()
    assert "封闭次要出入口" in page
    todo = {t.key: t for t in registry.todos(cast.coordinator)}["command.decisions"]
    assert todo.overdue
    client = login(cast.coordinator)
    assert _post(client, f"/command/decisions/{d.pk}/verify/").status_code == 403  # commanders verify
    assert _post(client, f"/command/decisions/{d.pk}/done/", {"note": "已封闭"}).status_code == 302
    client = login(cast.commander)
    assert _post(client, f"/command/decisions/{d.pk}/verify/").status_code == 302
    assert Decision.objects.get(pk=d.pk).state == "verified"
    assert _post(client, f"/command/decisions/{d.pk}/verify/").status_code == 409
    assert list(actions.carried_over(m2)) == []


# --- Inspections --------------------------------------------------------------------------

@pytest.fixture
def team(cast, hq):
    return actions.create_team(acting_user=cast.coordinator, hq=hq, name="第一督导组", members=[cast.inspector])


def test_an_inspector_records_findings_only_for_its_teams_plan(cast, hq, team, login):
    plan = actions.create_plan(acting_user=cast.coordinator, team=team, day=TODAY())
    outsider = make_user("inspector2", [("inspector", cast.street)])
    data = {"place": cast.compound_a1.pk, "target": "compound", "category": "gate", "text": "东门无人值守",
            "responsible": "物业", "deadline": (TODAY() + dt.timedelta(days=1)).isoformat()}
    resp = login(outsider).post(f"/command/inspect/plans/{plan.pk}/findings/", data)
    assert resp.status_code == 400 and not Finding.objects.exists()
    assert login(cast.committee_a).post(f"/command/inspect/plans/{plan.pk}/findings/", data).status_code == 403
    client = login(cast.inspector)
    resp = _json(client, f"/api/command/plans/{plan.pk}/findings", {**data, "client_key": "k1"})
    assert resp.status_code == 201
    again = _json(client, f"/api/command/plans/{plan.pk}/findings", {**data, "client_key": "k1"})
    assert again.status_code == 200 and Finding.objects.count() == 1  # an offline resend is stored once
    bad = _json(client, f"/api/command/plans/{plan.pk}/findings", {**data, "deadline": None, "client_key": "k2"})
    assert bad.status_code == 422 and "deadline" in json.dumps(bad.json())
    assert Finding.objects.count() == 1
    page = client.get("/command/inspect/").content.decode()
    assert "第一督导组" in page


def test_finding_rectified_by_deadline_verified_and_overdue_escalated(cast, hq, team, login, alerts,
                                                                      django_capture_on_commit_callbacks):
    plan = actions.create_plan(acting_user=cast.coordinator, team=team, day=TODAY())
    f, _ = actions.record_finding(acting_user=cast.inspector, plan=plan, place=cast.compound_a1, category="check",
                                  text="未测体温", responsible="甲一小区物业", deadline=TODAY())
    assert f.state == "open"
    later = timezone.now() + dt.timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.escalate_overdue(now=later) == 1 and actions.escalate_overdue(now=later) == 0
    assert [a.kind for a in alerts if a.kind.startswith("command")] == ["command.finding_overdue"]
    client = login(cast.committee_b)
    assert _post(client, f"/command/findings/{f.pk}/rectified/", {"note": "x"}).status_code == 404
    client = login(cast.committee_a)
    assert _post(client, f"/command/findings/{f.pk}/rectified/", {"note": "已安排专人测温"}).status_code == 302
    client = login(cast.inspector)
    assert _post(client, f"/command/findings/{f.pk}/verify/").status_code == 302
    assert Finding.objects.get(pk=f.pk).state == "verified"
    page = login(cast.commander).get("/command/inspections/").content.decode()
    assert "第一督导组" in page


# --- Entrances and the gates ------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_check_ins_keep_the_open_entrance_and_the_checkpoint_until_either_changes(cast, hq, login):
    """As the server runs (autocommit, not inside a test's transaction): a check-in keeps
    what it read of its checkpoint and that its entrance is open under the auth version, so
    the next one under the same version reads neither; sealing the entrance, renaming or
    moving nothing else, counts from the very next check-in (the version changes), and so
    does reopening it."""
    from django.test.utils import CaptureQueriesContext

    from tests.test_gates import entry

    gate = _checkpoint(cast)
    n = actions.publish(acting_user=cast.commander, notice=_submitted(hq, cast, entrances=[gate]))
    guard = make_user("guard_gate", [("gate_guard", gate)])
    client = login(guard)

    def check_in():
        with CaptureQueriesContext(connection) as ctx:
            resp = _json(client, "/api/gates/entries", entry(cast, place=gate.pk))
        assert resp.status_code == 201, resp.content
        reads = {t for q in ctx.captured_queries if q["sql"].startswith("SELECT")
                 for t in ("places_place", "command_accesspoint") if f'"{t}"' in q["sql"]}
        return resp.json(), reads

    first, reads = check_in()
    assert first["decision"] == "allowed" and reads == {"places_place", "command_accesspoint"}
    again, reads = check_in()
    assert again["decision"] == "allowed" and reads == set()  # kept: nothing read for them
    resp = login(cast.committee_a).post(f"/command/points/{gate.pk}/", {"state": "sealed", "notice": n.pk})
    assert resp.status_code == 302 and AccessPoint.objects.get(place=gate).state == "sealed"
    client = login(guard)
    sealed, reads = check_in()
    assert sealed["decision"] == "refused" and sealed["reason_code"] == "sealed" and n.serial in sealed["reason"]
    sealed_again, _reads = check_in()  # a closed entrance is read each time, with its reason
    assert sealed_again["reason_code"] == "sealed" and n.serial in sealed_again["reason"]
    actions.set_point(acting_user=cast.committee_a, point=AccessPoint.objects.get(place=gate), state="open", note="解除封闭")
    reopened, _reads = check_in()
    assert reopened["decision"] == "allowed"
    # A checkpoint that is no longer one (its kind changed by an operator): out of the
    # guard's checkpoints at once, though it was kept.
    from fangkong.places.models import Place

    Place.objects.filter(pk=gate.pk).update(kind="building")
    gone = _json(client, "/api/gates/entries", entry(cast, place=gate.pk))
    assert gone.status_code in (404, 422), gone.content
    assert GateEntry.objects.filter(place=gate).count() == 5


def test_a_sealed_checkpoint_refuses_check_ins_with_the_reason(cast, hq, login):
    from tests.test_gates import entry, token  # noqa: F401  (the gates' own test helpers)

    gate = _checkpoint(cast)
    n = actions.publish(acting_user=cast.commander, notice=_submitted(hq, cast, entrances=[gate]))
    guard = make_user("guard_gate", [("gate_guard", gate)])
    client = login(guard)
    ok = _json(client, "/api/gates/entries", entry(cast, place=gate.pk))
    assert ok.status_code in (200, 201) and ok.json()["decision"] == "allowed"
    # Sealing needs its basis; then every check-in there is refused, with the notice named.
    with pytest.raises(Invalid):
        actions.set_point(acting_user=cast.committee_a, point=actions.point_for(gate), state="sealed")
    resp = login(cast.committee_a).post(f"/command/points/{gate.pk}/", {"state": "sealed", "notice": n.pk})
    assert resp.status_code == 302 and AccessPoint.objects.get(place=gate).state == "sealed"
    client = login(guard)
    refused = _json(client, "/api/gates/entries", entry(cast, place=gate.pk))
    body = refused.json()
    assert body["decision"] == "refused" and body["reason_code"] == "sealed" and n.serial in body["reason"]
    check = _json(client, "/api/gates/check", {"token": token(), "place": gate.pk}).json()
    assert not check["ok"] and check["reason_code"] == "sealed" and n.serial in check["reason"]
    page = client.get("/gates/").content.decode()
    import re

    config = json.loads(re.search(r'<script id="gate-config" type="application/json">(.*?)</script>', page, re.S).group(1))
    closed = {p["id"]: p["closed"] for p in config["places"]}[gate.pk]  # the page refuses there, with the reason
    assert closed["code"] == "sealed" and n.serial in closed["text"]
    batch = _json(client, "/api/gates/entries/batch", {"entries": [entry(cast, place=gate.pk)]}).json()
    assert batch["entries"][0]["reason_code"] == "sealed"
    # Reopened: check-ins pass again; the history says who and why.
    actions.set_point(acting_user=cast.committee_a, point=AccessPoint.objects.get(place=gate), state="open", note="解除封闭")
    assert _json(client, "/api/gates/entries", entry(cast, place=gate.pk)).json()["decision"] == "allowed"
    assert AccessPoint.objects.get(place=gate).changes.count() == 2
    client = login(guard)
    # Sealed again by a decision of the HQ's meeting (named on the gate page too).
    m = actions.create_meeting(acting_user=cast.coordinator, hq=hq, date=TODAY())
    group = actions.add_group(acting_user=cast.coordinator, hq=hq, name="社区防控组")
    d = actions.add_decision(acting_user=cast.coordinator, meeting=m, text="封闭西门", deadline=TODAY(), owner_group=group)
    resp = login(cast.committee_a).post(f"/command/points/{gate.pk}/", {"state": "emergency", "decision": d.pk})
    assert resp.status_code == 302 and AccessPoint.objects.get(place=gate).decision_id == d.pk
    shut = registry.closure(gate.pk)
    assert shut.code == "emergency" and str(TODAY()) in shut.text
    actions.set_point(acting_user=cast.committee_a, point=AccessPoint.objects.get(place=gate), state="open", note="解除")
    # Other committees cannot touch it.
    assert login(cast.committee_b).post(f"/command/points/{gate.pk}/", {"state": "sealed", "note": "x"}).status_code == 404
    assert GateEntry.objects.filter(place=gate, reason_code="sealed").count() == 2


def test_daily_figures(cast, hq, team):
    n = actions.publish(acting_user=cast.commander, notice=_submitted(hq, cast))
    gate = _checkpoint(cast)
    actions.set_point(acting_user=None, point=actions.point_for(gate), state="sealed", notice=n)
    plan = actions.create_plan(acting_user=None, team=team, day=TODAY())
    actions.record_finding(acting_user=cast.inspector, plan=plan, place=cast.compound_a1, category="gate", text="门开着",
                           responsible="物业", fixed_on_spot=True)
    m = {x.key: x for x in registry.metrics()}
    day = timezone.localdate()
    total = lambda key: sum(n for _p, n in m[key].counts(day))  # noqa: E731
    assert total("command.notices_unread") == 2 and total("command.points_sealed") == 1
    assert total("command.findings") == 1 and total("command.findings_spot") == 1 and total("command.findings_open") == 0


# --- The story ----------------------------------------------------------------------

def test_must_hold_story(cast, hq, login, alerts, django_capture_on_commit_callbacks):
    """Notice No. 3 (semi-closed compounds) is published, 12 committees confirm (two after a
    reminder), the entrances named in it are sealed, an unannounced inspection finds an open
    gate, it is fixed on the spot and verified."""
    communities = [cast.comm_a, cast.comm_b]
    committees = {cast.comm_a.pk: cast.committee_a, cast.comm_b.pk: cast.committee_b}
    for i in range(10):
        c = create_place(acting_user=None, kind="community", name=f"第{i + 3}社区", code=f"C{i}", parent=cast.street)
        communities.append(c)
        committees[c.pk] = make_user(f"committee_{i}", [("committee", c)])
    for title in ("关于暂停营业性场所的通告", "关于减少人员流动的通告"):
        actions.publish(acting_user=cast.commander, notice=_submitted(hq, cast, title=title, places=[cast.comm_a]))
    gates = [_checkpoint(cast, name=f"甲一小区{i}号门") for i in range(3)]
    coordinator = login(cast.coordinator)
    resp = coordinator.post("/command/notices/new/", {
        "kind": "announcement", "title": "关于实行小区半封闭管理的通告", "body": "全部小区实行半封闭管理，只留一个出入口。",
        "places": [c.pk for c in communities], "entrances": [g.pk for g in gates]})
    assert resp.status_code == 302
    n = Notice.objects.get(title="关于实行小区半封闭管理的通告")
    assert _post(coordinator, f"/command/notices/{n.pk}/submit/").status_code == 302
    commander = login(cast.commander)
    assert _post(commander, f"/command/notices/{n.pk}/publish/").status_code == 302
    n.refresh_from_db()
    assert n.serial == f"〔{timezone.localdate().year}〕3号" and n.receipts.count() == 12
    late = communities[-2:]
    for c in communities[:-2]:
        client = login(committees[c.pk])
        r = n.receipts.get(place=c)
        assert _post(client, f"/command/receipts/{r.pk}/read/").status_code == 302
        assert _post(client, f"/command/receipts/{r.pk}/done/", {"note": "已落实"}).status_code == 302
    tracking = login(cast.commander).get(f"/command/notices/{n.pk}/").content.decode()
    assert tracking.count('data-state="sent"') == 2
    alerts.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(login(cast.commander), f"/command/notices/{n.pk}/remind/").status_code == 302
    assert sorted(a.place_path for a in alerts if a.kind == "command.receipt_late") == sorted(c.path for c in late)
    for c in late:
        client = login(committees[c.pk])
        r = n.receipts.get(place=c)
        assert _json(client, f"/api/command/receipts/{r.pk}/read", {}).status_code == 200
        assert _json(client, f"/api/command/receipts/{r.pk}/done", {"note": "经提醒后落实"}).status_code == 200
    assert n.receipts.filter(state="done").count() == 12 and n.receipts.filter(reminders=1).count() == 2
    # The entrances named in it are sealed (from the notice's page), and the gates refuse them.
    assert _post(login(cast.commander), f"/command/notices/{n.pk}/seal/").status_code == 302
    assert AccessPoint.objects.filter(place__in=gates, state="sealed", notice=n).count() == 3
    assert registry.closure(gates[0].pk).code == "sealed"
    # An unannounced inspection finds an open gate (a compound's), fixed on the spot and verified.
    team = actions.create_team(acting_user=cast.coordinator, hq=hq, name="第二督导组", members=[cast.inspector])
    plan = actions.create_plan(acting_user=cast.coordinator, team=team, day=TODAY(), announced=False,
                               focus="直奔问题，立说立改")
    inspector = login(cast.inspector)
    resp = inspector.post(f"/command/inspect/plans/{plan.pk}/findings/", {
        "place": cast.compound_a1.pk, "target": "compound", "category": "gate", "text": "西门未封闭且无人值守",
        "responsible": "甲一小区物业", "fixed_on_spot": "1", "client_key": "story-1"})
    assert resp.status_code == 302
    f = Finding.objects.get(client_key="story-1")
    assert f.state == "fixed" and f.fixed_on_spot and not plan.announced
    assert _post(inspector, f"/command/findings/{f.pk}/verify/").status_code == 302
    assert Finding.objects.get(pk=f.pk).state == "verified"
    board = login(cast.commander).get("/command/").content.decode()
    assert 'id="fig-sealed">3<' in board
