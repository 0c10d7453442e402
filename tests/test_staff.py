"""Staff accounts and grants in pages and API (issue 13): delegation without escalation,
one-time sign-in links, onboarding from a list, deactivation, search, who holds what."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import TestCase
from django.utils import timezone

from fangkong.accounts import actions
from fangkong.accounts.models import DelegationRule, OnboardingJob, SignInLink, StaffProfile
from fangkong.audit.models import AuditEvent
from fangkong.lib import crypto
from fangkong.places.actions import create_place
from fangkong.places.models import Grant
from tests.cast import make_user

User = get_user_model()


def grants_snapshot():
    return sorted(Grant.objects.values_list("id", "user_id", "role", "place_id", "organization_id", "active"))


def worker(cast, name="新网格员", phone="13700000001", place=None):
    """An account managed from grid A1 (created by the admin), no roles yet."""
    user = actions.create_account(acting_user=cast.admin, name=name, phone=phone, place=place or cast.grid_a1)
    return user.staff_profile


def grant_page(client, profile, role, code, **extra):
    return client.post(f"/staff/people/{profile.pk}/grant/", {"role": role, "target": code, **extra})


def grant_api(client, profile, role, code):
    return client.post(f"/api/staff/people/{profile.pk}/grants", json.dumps({"role": role, "target": code}),
                       content_type="application/json")


# --- Delegation without escalation -------------------------------------------------------

def test_committee_grants_grid_worker_in_its_community(cast, login):
    p = worker(cast)
    resp = grant_page(login(cast.committee_a), p, "grid_worker", "A1", starts_on="2020-01-01", ends_on="2099-12-31")
    assert resp.status_code == 302
    g = Grant.objects.get(user=p.user)
    assert (g.role, g.place, g.active, g.ends_on) == ("grid_worker", cast.grid_a1, True, dt.date(2099, 12, 31))
    assert AuditEvent.objects.filter(user=cast.committee_a, action="grant.create").exists()
    assert grant_page(login(cast.committee_a), p, "grid_worker", "A1").status_code == 409  # held: not doubled
    assert Grant.objects.filter(user=p.user).count() == 1


@pytest.mark.parametrize("granter,role,code", [
    ("committee_a", "grid_worker", "A2"), ("committee_a", "volunteer", "A"), ("committee_a", "gate_guard", "A1Y"),
    ("coordinator", "committee", "B"), ("coordinator", "unit_liaison", "Y"), ("admin", "commander", "S"),
])
def test_what_each_may_delegate_is_granted(cast, login, granter, role, code):
    p = worker(cast, place=cast.comm_a)
    assert grant_api(login(getattr(cast, granter)), p, role, code).status_code == 201
    assert Grant.objects.filter(user=p.user, role=role, active=True).count() == 1


@pytest.mark.parametrize("via", ["page", "api"])
@pytest.mark.parametrize("granter,role,code", [
    ("committee_a", "medic", "A1"),          # a role a committee may not delegate
    ("committee_a", "coordinator", "A"),     # a role it does not hold, above its own
    ("committee_a", "admin", "A"),           # nobody but the admin grants admin
    ("committee_a", "grid_worker", "S"),     # over a parent place
    ("committee_a", "grid_worker", "B1"),    # outside its community
    ("committee_a", "unit_liaison", "X"),    # an organization role in its community: not delegable
    ("coordinator", "committee", "T"),       # a coordinator outside its street
    ("coordinator", "coordinator", "S"),     # a coordinator granting its own role
    ("coordinator", "commander", "A"),       # a role above its own, inside its street
    ("worker_a1", "volunteer", "A1"),        # a grid worker delegates nothing (403 at the route)
])
def test_each_escalation_path_is_403_and_stores_nothing(cast, login, granter, role, code, via):
    create_place(acting_user=None, kind="street", name="别的街道", code="T", parent=None)
    p = worker(cast, place=cast.comm_a)
    before, audits = grants_snapshot(), AuditEvent.objects.filter(action="grant.create").count()
    client = login(getattr(cast, granter))
    resp = (grant_page if via == "page" else grant_api)(client, p, role, code)
    assert resp.status_code == 403, resp.content[:300]
    assert grants_snapshot() == before
    assert AuditEvent.objects.filter(action="grant.create").count() == audits


@pytest.mark.parametrize("role", ["coordinator", "grid_worker", "committee"])
def test_granting_oneself_more_is_403(cast, login, role):
    me = cast.committee_a.staff_profile
    before = grants_snapshot()
    assert grant_page(login(cast.committee_a), me, role, "A").status_code == 403
    assert grant_api(login(cast.committee_a), me, role, "A").status_code == 403
    assert grants_snapshot() == before


def test_a_committee_cannot_take_over_a_stronger_account_in_its_community(cast, login):
    """Sign-in links and deactivation act only on accounts whose grants one could have given."""
    boss = make_user("boss", [("coordinator", cast.street)])
    StaffProfile.objects.filter(user=boss).update(home_place=cast.comm_a, home_path=cast.comm_a.path)
    p = boss.staff_profile
    client = login(cast.committee_a)
    assert client.post(f"/staff/people/{p.pk}/link/").status_code == 403
    assert client.post(f"/staff/people/{p.pk}/deactivate/").status_code == 403
    assert not SignInLink.objects.filter(user=boss).exists() and User.objects.get(pk=boss.pk).is_active


def test_admin_overrides_the_delegation_table_in_an_audited_page(cast, login):
    p = worker(cast)
    assert grant_page(login(cast.committee_a), p, "medic", "A").status_code == 403
    assert login(cast.coordinator).get("/staff/delegation/").status_code == 403
    resp = login(cast.admin).post("/staff/delegation/", {"granter_role": "committee", "roles": ["grid_worker", "medic"]})
    assert resp.status_code == 302
    assert DelegationRule.objects.get(granter_role="committee").roles == ["grid_worker", "medic"]
    assert AuditEvent.objects.filter(user=cast.admin, action="accounts.delegation").exists()
    assert grant_page(login(cast.committee_a), p, "medic", "A").status_code == 302
    assert grant_page(login(cast.committee_a), p, "volunteer", "A1").status_code == 403  # no longer in its row
    login(cast.admin).post("/staff/delegation/", {"granter_role": "committee", "restore": "on"})
    assert not DelegationRule.objects.exists()


def test_revoke_and_other_jurisdiction(cast, login):
    p = worker(cast)
    g = actions.grant_role(acting_user=cast.admin, user=p.user, role="grid_worker", target=cast.grid_a1)
    assert login(cast.committee_b).post(f"/staff/people/{p.pk}/revoke/", {"grant": g.pk}).status_code == 404
    assert login(cast.worker_a1).post(f"/staff/people/{p.pk}/revoke/", {"grant": g.pk}).status_code == 403
    assert login(cast.committee_a).get(f"/staff/people/{p.pk}/revoke/").status_code == 405
    assert login(cast.committee_a).post(f"/staff/people/{p.pk}/revoke/", {"grant": g.pk}).status_code == 302
    g.refresh_from_db()
    assert not g.active and g.revoked_at is not None


def test_create_account_page_stores_phone_encrypted_and_search_by_masked_phone(cast, login):
    client = login(cast.committee_a)
    resp = client.post("/staff/new/", {"name": "王小二", "phone": "13912345678", "role": "volunteer", "target": "A2"})
    assert resp.status_code == 302, resp.content.decode()[:500]
    p = StaffProfile.objects.get(user__first_name="王小二")
    assert p.home_place == cast.grid_a2 and p.phone_masked == "139****5678"
    assert crypto.decrypt(p.phone_enc) == "13912345678" and not p.user.has_usable_password()
    assert client.post("/staff/new/", {"name": "王小三", "phone": "139 1234 5678", "role": "volunteer",
                                       "target": "A2"}).status_code == 400  # one account per phone
    for q in ("王小", "139****5678", "5678", "13912345678"):
        assert "王小二" in client.get("/staff/", {"q": q}).content.decode(), q
    assert "王小二" not in login(cast.committee_b).get("/staff/", {"q": "王小"}).content.decode()
    client = login(cast.committee_a)
    assert "13912345678" not in client.get(f"/staff/people/{p.pk}/").content.decode()
    api = client.get("/api/staff/people", {"q": "139****5678"}).json()
    assert [x["phone"] for x in api] == ["139****5678"]
    holders = client.get("/staff/holders/", {"place": "A"}).content.decode()
    assert "王小二" in holders and "乙社区" not in holders
    assert login(cast.committee_b).get("/staff/holders/", {"place": "A"}).status_code == 404


# --- One-time sign-in links --------------------------------------------------------------

def issue(client, profile):
    resp = client.post(f"/staff/people/{profile.pk}/link/")
    assert resp.status_code == 200
    page = resp.content.decode()
    url = re.search(r'id="link-url" href="([^"]+)"', page).group(1)
    assert "<svg" in page  # the QR code
    return url.split("://", 1)[1].split("/", 1)[1]


def test_one_time_link_works_once(cast, login, client):
    p = worker(cast)
    actions.grant_role(acting_user=cast.admin, user=p.user, role="grid_worker", target=cast.grid_a1)
    path = "/" + issue(login(cast.committee_a), p)
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert SignInLink.objects.get(user=p.user).token_hash != token and token not in json.dumps(
        list(AuditEvent.objects.values_list("detail", flat=True)), ensure_ascii=False)
    client.logout()
    assert client.get(path).status_code == 200
    bad = client.post(path, {"password": "short", "password2": "short"})
    assert bad.status_code == 400 and not User.objects.get(pk=p.user.pk).has_usable_password()
    ok = client.post(path, {"password": "一二三四五六七八九十ab", "password2": "一二三四五六七八九十ab"})
    assert ok.status_code == 302
    hashed = User.objects.get(pk=p.user.pk).password
    assert User.objects.get(pk=p.user.pk).check_password("一二三四五六七八九十ab")
    client.logout()
    again = client.post(path, {"password": "another-password-99", "password2": "another-password-99"})
    assert again.status_code == 409 and 'class="flash error" role="alert"' in again.content.decode()
    assert User.objects.get(pk=p.user.pk).password == hashed  # unchanged
    assert client.get(path).status_code == 410


def test_expired_link_is_a_clear_error_and_changes_nothing(cast, login, client):
    p = worker(cast)
    path = "/" + issue(login(cast.admin), p)
    SignInLink.objects.filter(user=p.user).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    client.logout()
    resp = client.post(path, {"password": "good-password-123", "password2": "good-password-123"})
    assert resp.status_code == 409 and 'role="alert"' in resp.content.decode()
    assert not User.objects.get(pk=p.user.pk).has_usable_password()


def test_a_new_link_revokes_the_old_one_and_expiry_is_configurable(cast, login, client, settings):
    settings.SIGNIN_LINK_HOURS = 5
    p = worker(cast)
    first = "/" + issue(login(cast.admin), p)
    link = SignInLink.objects.get(user=p.user)
    assert abs((link.expires_at - timezone.now()) - dt.timedelta(hours=5)) < dt.timedelta(minutes=1)
    issue(login(cast.admin), p)
    client.logout()
    assert client.post(first, {"password": "good-password-123", "password2": "good-password-123"}).status_code == 409


def test_link_sent_through_notification_channels(cast, login):
    from fangkong.notify.models import Recipient

    p = worker(cast)
    resp = login(cast.admin).post(f"/api/staff/people/{p.pk}/link", json.dumps({"send": True}), content_type="application/json")
    assert resp.status_code == 200 and "/signin/" in resp.json()["url"]
    r = Recipient.objects.get(user=p.user)
    assert r.message.link == resp.json()["url"] and "/signin/" not in r.message.body


# --- Deactivation --------------------------------------------------------------------------

def test_deactivate_lists_open_items_for_reassignment(cast, login, monkeypatch):
    from fangkong.lib import registry

    p = worker(cast)
    actions.grant_role(acting_user=cast.admin, user=p.user, role="grid_worker", target=cast.grid_a1)
    fake = registry.Todo(key="census.visit", label="入户走访", count=3, url="/census/")
    monkeypatch.setattr(registry, "_TODO_PROVIDERS", [lambda u: [fake] if u.pk == p.user.pk and u.is_active else []])
    resp = login(cast.committee_a).post(f"/api/staff/people/{p.pk}/deactivate")
    assert resp.status_code == 200 and resp.json() == [{"key": "census.visit", "label": "入户走访", "count": 3, "url": "/census/"}]
    p.refresh_from_db()
    assert not p.user.is_active and p.open_items[0]["count"] == 3
    assert "入户走访" in login(cast.committee_a).get(f"/staff/people/{p.pk}/").content.decode()
    from fangkong.notify.models import Recipient

    assert Recipient.objects.filter(user=cast.committee_a, message__kind="accounts.reassign").exists()
    assert login(cast.committee_a).post(f"/api/staff/people/{p.pk}/deactivate").status_code == 409


# --- Grant dates -----------------------------------------------------------------------------

def test_grant_dates_are_applied(cast):
    p = worker(cast)
    today = timezone.localdate()
    later = actions.grant_role(acting_user=cast.admin, user=p.user, role="volunteer", target=cast.site,
                               starts_on=today + dt.timedelta(days=2))
    assert not later.active
    actions.apply_grant_dates(today=today + dt.timedelta(days=2))
    later.refresh_from_db()
    assert later.active
    later.ends_on = today + dt.timedelta(days=3)
    later.save()
    actions.apply_grant_dates(today=today + dt.timedelta(days=4))
    later.refresh_from_db()
    assert not later.active


# --- Onboarding from a list -------------------------------------------------------------------

HEAD = ["姓名", "手机号", "角色", "地点编码", "开始日期", "结束日期"]


def sheet(rows, header=HEAD):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    f = io.BytesIO(buf.getvalue().encode("utf-8-sig"))
    f.name = "名单.csv"
    return f


def onboard(client, place, f):
    with TestCase.captureOnCommitCallbacks(execute=True):
        resp = client.post("/staff/onboard/", {"place": place.pk, "file": f})
    assert resp.status_code == 302, resp.content.decode()[:1500]
    return OnboardingJob.objects.latest("pk")


def test_onboarding_1500_people_twice_creates_nobody_twice(cast, login):
    rows = [[f"人员{i}", f"136{i:08d}", "网格员" if i % 2 else "volunteer", "A1" if i % 3 else "A2", "", ""]
            for i in range(1500)]
    client = login(cast.committee_a)
    users = User.objects.count()
    job = onboard(client, cast.comm_a, sheet(rows))
    assert (job.status, job.processed_rows, job.created_count, job.granted_count, job.error_count) == ("done", 1500, 1500, 1500, 0)
    assert User.objects.count() == users + 1500
    progress = client.get(f"/staff/onboard/{job.pk}/progress/").content.decode()
    assert "1500" in progress and 'id="print-sheet"' in progress
    grants = grants_snapshot()
    again = onboard(client, cast.comm_a, sheet(rows))
    assert (again.status, again.created_count, again.granted_count, again.skipped_count) == ("done", 0, 0, 1500)
    assert User.objects.count() == users + 1500 and grants_snapshot() == grants


def test_onboarding_from_xlsx_with_a_title_row(cast, login):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["甲社区志愿者名单"])
    ws.append(HEAD)
    ws.append(["志愿者一", 13600000011, "志愿者", "A2", "2026-01-01", ""])
    ws.append(["单位联络员", "13600000012", "unit_liaison", "X", "", ""])  # a committee may not
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    buf.name = "名单.xlsx"
    job = onboard(login(cast.committee_a), cast.comm_a, buf)
    assert (job.created_count, job.error_count) == (1, 1)
    g = Grant.objects.get(user__first_name="志愿者一")
    assert (g.role, g.place, g.starts_on) == ("volunteer", cast.grid_a2, dt.date(2026, 1, 1))


def test_onboarding_row_errors_duplicates_and_escalation(cast, login):
    worker(cast, name="老张", phone="13800000009")
    rows = [
        ["甲", "13600000001", "grid_worker", "A1", "2020-01-01", "2099-01-01"],
        ["甲", "13600000001", "grid_worker", "A1", "", ""],      # repeated row
        ["乙", "12345", "grid_worker", "A1", "", ""],            # bad phone
        ["丙", "13600000003", "medic", "A1", "", ""],            # not delegable
        ["丁", "13600000004", "grid_worker", "B1", "", ""],      # outside the community
        ["戊", "13600000005", "厨师", "A1", "", ""],              # unknown role
        ["己", "13600000006", "grid_worker", "NOPE", "", ""],    # unknown code
        ["老张", "13800000009", "volunteer", "A2", "", ""],      # existing account: granted, not created
    ]
    client = login(cast.committee_a)
    job = onboard(client, cast.comm_a, sheet(rows))
    assert (job.created_count, job.granted_count, job.skipped_count, job.error_count) == (1, 2, 1, 5)
    assert not StaffProfile.objects.filter(user__first_name__in=["乙", "丙", "丁", "戊", "己"]).exists()
    report = client.get(f"/staff/onboard/{job.pk}/errors.csv")
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    assert "手机号" in text and text.count("\n") == 7  # header + 6 rows not onboarded
    assert "13600000001" not in text
    assert login(cast.committee_b).get(f"/staff/onboard/{job.pk}/").status_code == 404
    assert login(cast.worker_a1).get(f"/staff/onboard/{job.pk}/").status_code == 403


def test_qr_sheet_issues_links_and_holds_no_password(cast, login):
    client = login(cast.committee_a)
    job = onboard(client, cast.comm_a, sheet([["甲", "13600000001", "grid_worker", "A1", "", ""],
                                              ["乙", "13600000002", "volunteer", "A2", "", ""]]))
    assert client.get(f"/staff/onboard/{job.pk}/sheet.pdf").status_code == 405
    resp = client.post(f"/staff/onboard/{job.pk}/sheet.pdf")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf" and resp.content.startswith(b"%PDF")
    assert SignInLink.objects.filter(used_at__isnull=True, revoked_at__isnull=True).count() == 2
    first = set(SignInLink.objects.values_list("token_hash", flat=True))
    client.post(f"/staff/onboard/{job.pk}/sheet.pdf")  # printing again: the earlier codes stop working
    assert SignInLink.objects.filter(token_hash__in=first, revoked_at__isnull=False).count() == 2
    assert AuditEvent.objects.filter(action="accounts.onboard.sheet").count() == 2


def test_api_create_grant_revoke_and_holders(cast, login):
    client = login(cast.coordinator)
    resp = client.post("/api/staff/people", json.dumps({"name": "周医生", "phone": "13711112222", "role": "medic",
                                                        "target": "A", "ends_on": "2099-01-01"}),
                       content_type="application/json")
    assert resp.status_code == 201, resp.content
    person = resp.json()
    assert person["phone"] == "137****2222" and person["place_id"] == cast.comm_a.pk
    resp = client.post(f"/api/staff/people/{person['id']}/grants", json.dumps({"role": "volunteer", "target": "SITE"}),
                       content_type="application/json")
    assert resp.status_code == 201 and resp.json()["organization_id"] == cast.site.pk
    holders = client.get("/api/staff/holders", {"place": "S"}).json()
    assert {(h["name"], h["role"]) for h in holders} >= {("周医生", "medic"), ("周医生", "volunteer")}
    assert client.get("/api/staff/holders", {"place": "NOPE"}).status_code == 404
    bad = client.post("/api/staff/people", json.dumps({"name": "x", "phone": "12", "role": "medic", "target": "A"}),
                      content_type="application/json")
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "phone"
    revoke = client.post(f"/api/staff/people/{person['id']}/revoke", json.dumps({"grant": resp.json()["id"]}),
                         content_type="application/json")
    assert revoke.status_code == 200 and revoke.json()["active"] is False
    assert client.put(f"/api/staff/people/{person['id']}/revoke").status_code == 405
