"""Browser test of the duty page on a phone: a volunteer checks in on arrival without
network by the post's QR code (kept on the phone, sent once when the network returns),
reports their health without network too (the same queue), checks out before leaving from
the list; a fever reported before the next shift takes them off it until
a medic clears them."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from fangkong.duty import actions
from fangkong.duty.models import Assignment, HealthCheck
from fangkong.places.actions import create_organization
from tests.test_browser import PHONE, browser, live_cast, no_horizontal_overflow, open_page, screenshot, sign_in, url  # noqa: F401

pytestmark = pytest.mark.browser
A = Assignment.State


def test_volunteer_checks_in_offline_reports_health_checks_out_and_fever_takes_them_off(live_server, live_cast, open_page):
    from playwright.sync_api import expect

    cast = live_cast
    site = create_organization(acting_user=None, kind="site", name="北门值守点", code="DUTYB", place=cast.compound_a1)
    vol = cast.volunteer
    actions.deploy(acting_user=None, user=vol, site=site,
                       starts_on=timezone.localdate() - dt.timedelta(days=1))  # the shift began 2 min ago: maybe yesterday
    now = timezone.now()
    first = actions.create_shift(acting_user=None, site=site, post="gate", starts_at=now - dt.timedelta(minutes=2),
                                 ends_at=now + dt.timedelta(hours=3), slots=2)
    # The next shift tomorrow morning: listed among the later days' shifts (without its
    # state), so the page must learn from the server that its volunteer is off duty (at
    # night a shift a few hours ahead was on that list, and the page did not say so).
    tomorrow = timezone.make_aware(dt.datetime.combine(timezone.localdate() + dt.timedelta(days=1), dt.time(9)))
    later = actions.create_shift(acting_user=None, site=site, post="gate", starts_at=tomorrow,
                                 ends_at=tomorrow + dt.timedelta(hours=4), slots=2)
    a1 = actions.assign(acting_user=None, shift=first, user=vol)
    a2 = actions.assign(acting_user=None, shift=later, user=vol)

    page = open_page(**PHONE)
    sign_in(page, live_server, "volunteer")
    page.goto(url(live_server, "duty_home"))
    expect(page.locator("#net-status")).to_have_attribute("data-state", "online")
    shift = page.locator(f'li[data-assignment="{a1.pk}"]')

    # Another post's QR code: refused by the server, the shift as it was.
    page.locator("#scan").fill("fkpost:another-post")
    page.locator("#scan").press("Enter")
    expect(page.locator("#rejected")).to_be_visible(timeout=15_000)
    expect(shift).to_have_attribute("data-state", "assigned", timeout=15_000)
    assert Assignment.objects.get(pk=a1.pk).state == A.ASSIGNED

    # No network on arrival: the post's QR code is scanned (here typed into the scanner
    # field, as a wedge scanner does; the camera feeds the same function) and the check-in
    # waits on the phone with the post's code.
    page.context.set_offline(True)
    expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
    page.locator("#scan").fill("fkpost:" + first.post_code)
    page.locator("#scan").press("Enter")
    expect(page.locator("#waiting")).to_have_text("1")
    expect(shift).to_have_attribute("data-state", "checked_in")
    assert Assignment.objects.get(pk=a1.pk).state == A.ASSIGNED
    assert no_horizontal_overflow(page), "the duty page scrolls sideways on a phone"
    screenshot(page, "duty-1-offline-checkin-phone")

    # The network returns: sent once.
    page.context.set_offline(False)
    expect(page.locator("#waiting")).to_have_text("0", timeout=15_000)
    page.locator("#sync-now").click()
    page.wait_for_timeout(500)
    a = Assignment.objects.get(pk=a1.pk)
    assert a.state == A.CHECKED_IN and a.checkin_client_id and not a.late
    assert Assignment.objects.filter(user=vol, state=A.CHECKED_IN).count() == 1

    # The daily health check-in, without network: queued like the check-in, sent once.
    page.context.set_offline(True)
    page.locator("#health-temp").fill("36.5")
    page.locator("#health-submit").click()
    expect(page.locator("#waiting")).to_have_text("1")
    expect(page.locator("#health-today")).to_have_attribute("data-state", "queued")
    assert not HealthCheck.objects.filter(user=vol).exists()
    page.context.set_offline(False)
    expect(page.locator("#health-today")).to_have_attribute("data-state", "ok", timeout=15_000)
    expect(page.locator("#waiting")).to_have_text("0")
    page.locator("#sync-now").click()
    page.wait_for_timeout(500)
    hc = HealthCheck.objects.get(user=vol)
    assert hc.state == "ok" and hc.client_id

    # Check-out before leaving.
    shift = page.locator(f'li[data-assignment="{a1.pk}"]')
    shift.locator("textarea[name=note]").fill("北门秩序正常")
    shift.locator("button.check-out").click()
    expect(page.locator("#waiting")).to_have_text("0", timeout=15_000)
    page.wait_for_timeout(300)
    a = Assignment.objects.get(pk=a1.pk)
    assert a.state == A.CHECKED_OUT and a.note == "北门秩序正常"
    screenshot(page, "duty-2-checked-out-phone")

    # Before the next shift: a fever. Off that shift until a medic clears.
    page.goto(url(live_server, "duty_home"))
    page.locator("#health-temp").fill("38.3")
    page.locator("input[name=symptoms][value=cough]").check()
    page.locator("#health-submit").click()
    expect(page.locator("#unwell")).to_be_visible(timeout=15_000)
    assert Assignment.objects.get(pk=a2.pk).state == A.REMOVED
    assert page.locator(f'li[data-assignment="{a2.pk}"] form').count() == 0
    screenshot(page, "duty-3-fever-off-duty-phone")
    assert not page.js_errors, page.js_errors

    medic = open_page(**PHONE)
    sign_in(medic, live_server, "medic_a")
    medic.goto(url(live_server, "duty_sites"))
    with medic.expect_navigation():  # the form posts and redirects back to this same page
        medic.locator("#unwell-list form button").click()
    medic.wait_for_url(url(live_server, "duty_sites"))
    assert not HealthCheck.objects.filter(user=vol, state="unwell").exists()
    assert actions.assign(acting_user=None, shift=later, user=vol).state == A.ASSIGNED
