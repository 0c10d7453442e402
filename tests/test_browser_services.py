"""Browser test of resident services (M13): a volunteer takes an open request on a phone,
marks it bought and delivered with the code the resident gives; the hotline console takes a
new call from the keyboard."""
from __future__ import annotations

import pytest

from fangkong.services import actions
from fangkong.services.models import Call, ServiceRequest
from tests.cast import make_user
from tests.test_browser import (DESKTOP, PHONE, browser, live_cast, no_horizontal_overflow, open_page,  # noqa: F401
                                screenshot, sign_in, url)

pytestmark = pytest.mark.browser


def test_volunteer_delivers_a_request_on_a_phone(live_server, live_cast, open_page):
    cast = live_cast
    make_user("vol_phone", [("volunteer", cast.comm_a)])
    req = actions.create_request(acting_user=None, person=cast.person_a1, kind="medicine", text="降压药一盒", source="staff")
    page = open_page(**PHONE)
    sign_in(page, live_server, "vol_phone")
    page.goto(url(live_server, "services_tasks"))
    assert cast.hh_a1.address not in page.content()  # the open pool: no address before accepting
    page.locator(f"a[href='/services/tasks/{req.pk}/']").first.click()
    page.locator("form[action$='/accept/'] button").click()
    page.wait_for_selector("#id_spent")
    assert cast.hh_a1.address in page.content() and cast.phones["person_a1"] not in page.content()
    assert no_horizontal_overflow(page), "the task page scrolls sideways on a phone"
    screenshot(page, "services-1-task-accepted-phone")
    page.fill("#id_spent", "28.50")
    page.locator("form[action$='/bought/'] button").click()
    page.wait_for_selector("#id_code")
    page.fill("#id_code", "0000" if req.code != "0000" else "1111")
    page.locator("form[action$='/deliver/'] button").click()
    assert "验证码与居民收到的不一致" in page.content()
    page.fill("#id_code", req.code)
    page.locator("form[action$='/deliver/'] button").click()
    page.wait_for_selector("#id_paid")
    screenshot(page, "services-2-delivered-phone")
    assert not page.js_errors
    req.refresh_from_db()
    assert req.state == ServiceRequest.State.DELIVERED and str(req.spent) == "28.50"


def test_hotline_console_new_call_from_the_keyboard(live_server, live_cast, open_page):
    cast = live_cast
    make_user("duty_kb", [("duty_officer", cast.street)])
    page = open_page(**DESKTOP)
    sign_in(page, live_server, "duty_kb")
    page.goto(url(live_server, "services_console"))
    page.keyboard.press("n")
    page.keyboard.type("发热门诊在哪里")
    page.keyboard.press("Enter")
    page.wait_for_url("**/hotline/calls/*/")
    call = Call.objects.get()
    assert call.owner.username == "duty_kb" and call.question == "发热门诊在哪里"
    screenshot(page, "services-3-call-desktop")
    assert not page.js_errors


def test_handovers_marked_offline_are_sent_once(live_server, live_cast, open_page):
    """A volunteer at a point marks two households with no network: kept on the phone, sent
    when the network returns, counted once; a household marked again is refused by name.
    The page reloads without network (its service worker keeps it once it controls the page)
    and the marks waiting on the phone are still there."""
    from playwright.sync_api import expect

    from fangkong.places.actions import create_place
    from fangkong.residents.actions import create_household
    from fangkong.services.models import Handover

    cast = live_cast
    vol = make_user("vol_point", [("volunteer", cast.comm_a)])
    b = create_place(acting_user=None, kind="building", name="5号楼", code="A1Y-5", parent=cast.compound_a1)
    for room in (101, 102, 201):
        create_household(acting_user=None, place=b, address=f"甲一小区5号楼{room}室")
    point = actions.create_point(acting_user=None, community=cast.comm_a, name="东门发放点", buildings=[b], staff=[vol])
    from django.utils import timezone

    rnd = actions.open_round(acting_user=None, point=point, day=timezone.localdate(), what="蔬菜包")
    page = open_page(**PHONE)
    sign_in(page, live_server, "vol_point")
    page.goto(url(live_server, "services_round", rnd.pk))
    expect(page.locator("#net-status")).to_have_attribute("data-state", "online")
    # Opened once with network: the worker takes control and keeps a copy of the page (the
    # first visit came before the worker was installed, so the page asks it to keep one).
    kept = """async () => !!navigator.serviceWorker.controller
        && !!(await caches.match(location.pathname, {ignoreVary: true}))"""
    for _i in range(100):
        if page.evaluate(kept):
            break
        page.wait_for_timeout(200)
    assert page.evaluate(kept), "the round page was not kept for offline use"
    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    for room in ("101", "102"):
        page.fill("#id_room", room)
        page.locator("#handover-form button[type=submit]").click()
    expect(page.locator("#waiting")).to_have_text("2")
    assert not Handover.objects.filter(round=rnd).exists()
    # Reloaded without network: the worker's copy of the page, the two marks still waiting.
    page.reload()
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    expect(page.locator("#waiting")).to_have_text("2")
    assert no_horizontal_overflow(page), "the round page scrolls sideways on a phone"
    screenshot(page, "services-4-handover-offline-phone")
    page.context.set_offline(False)
    page.locator("#sync-now").click()
    expect(page.locator("#waiting")).to_have_text("0", timeout=15_000)
    assert Handover.objects.filter(round=rnd).count() == 2
    expect(page.locator("#handed")).to_have_text("2")
    # Marked again (a second mark of a household): refused with the reason, still counted once.
    page.fill("#id_room", "101")
    page.locator("#handover-form button[type=submit]").click()
    expect(page.locator("#rejected")).to_be_visible(timeout=15_000)
    expect(page.locator("#waiting")).to_have_text("0")
    assert Handover.objects.filter(round=rnd).count() == 2
    screenshot(page, "services-5-handover-sent-phone")
    assert not page.js_errors


def test_hotline_console_and_rota_show_who_is_on_duty_from_the_duty_module(live_server, live_cast, open_page):
    """The console (desktop and phone) and the street's rota page show the officer on the
    hotline's running shift (checked in) and the next one, from the duty module's shifts."""
    import datetime as dt

    from django.utils import timezone

    from fangkong.duty import actions as duty
    from fangkong.places.actions import create_organization

    cast = live_cast
    on, nxt = make_user("duty_on", [("duty_officer", cast.street)]), make_user("duty_next", [("duty_officer", cast.street)])
    on.first_name, nxt.first_name = "值班员甲", "值班员乙"
    on.save(), nxt.save()
    site = create_organization(acting_user=None, kind="site", name="测试街道热线值守点", code="HOTLINE-S", place=cast.street)
    now = timezone.now()
    for user in (on, nxt):
        duty.deploy(acting_user=None, user=user, site=site, kind="cadre", starts_on=timezone.localdate() - dt.timedelta(days=1))
    running = duty.create_shift(acting_user=None, site=site, post="hotline", starts_at=now - dt.timedelta(hours=2),
                                ends_at=now + dt.timedelta(hours=6))
    later = duty.create_shift(acting_user=None, site=site, post="hotline", starts_at=now + dt.timedelta(hours=6),
                              ends_at=now + dt.timedelta(hours=14))
    a = duty.assign(acting_user=None, shift=running, user=on)
    duty.assign(acting_user=None, shift=later, user=nxt)
    duty.check(acting_user=on, assignment_id=a.pk, direction="in")
    for size, name in ((DESKTOP, "services-6-console-on-duty-desktop"), (PHONE, "services-7-console-on-duty-phone")):
        page = open_page(**size)
        sign_in(page, live_server, "duty_next")
        page.goto(url(live_server, "services_console"))
        section = page.locator("#hotline-on-duty").inner_text()
        assert "值班员甲" in section and "已签到" in section and "值班员乙" in section.split("值班员甲", 1)[1]
        assert no_horizontal_overflow(page), name
        screenshot(page, name)
        assert not page.js_errors
    page = open_page(**DESKTOP)
    sign_in(page, live_server, "coordinator")
    page.goto(url(live_server, "services_rota"))
    body = page.locator("main").inner_text()
    assert "值班员甲" in body and "值班员乙" in body and "测试街道热线值守点" in body
    screenshot(page, "services-8-rota-desktop")
    assert not page.js_errors
