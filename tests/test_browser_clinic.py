"""Browser test of the clinic post's screening page on a phone (390×844), keyboard first:
the medic types one visitor after another without touching the mouse: the ID number, Enter
to the next fields, the temperature (a fever leaves only the fever routes), a digit picks
the route, Ctrl+Enter records and the next visitor's screen opens with the focus on the ID."""
from __future__ import annotations

import pytest

from fangkong.clinic import actions
from fangkong.clinic.models import Visit
from fangkong.places.actions import create_organization
from tests.test_browser import PHONE, browser, live_cast, no_horizontal_overflow, open_page, screenshot, sign_in, url  # noqa: F401

pytestmark = pytest.mark.browser


def test_screening_page_keyboard_first_on_a_phone(live_server, live_cast, open_page):
    from playwright.sync_api import expect

    cast = live_cast
    org = create_organization(acting_user=None, kind="clinic", name="甲社区卫生服务站", code="CLINIC-A", place=cast.places["comm_a"])
    post = actions.create_post(acting_user=None, clinic=org, name="正门")
    page = open_page(**PHONE)
    sign_in(page, live_server, "medic_a")
    page.goto(url(live_server, "clinic_screen", post.pk))
    expect(page.locator("#f-id")).to_be_focused()
    page.keyboard.type(cast.ids["person_a1"])
    page.keyboard.press("Enter")
    expect(page.locator("#f-name")).to_be_focused()
    page.locator("#f-temp").fill("38.5")
    expect(page.locator("#fever-flag")).to_be_visible()
    expect(page.locator("label.route[data-route=general] input")).to_be_disabled()
    page.locator("#f-temp").blur()
    page.keyboard.press("1")  # the first route: the fever clinic
    expect(page.locator("label.route[data-route=fever_clinic] input")).to_be_checked()
    assert no_horizontal_overflow(page), "the screening page scrolls sideways on a phone"
    screenshot(page, "clinic-1-fever-phone")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(url(live_server, "clinic_screen", post.pk))
    expect(page.locator("#f-id")).to_be_focused()  # the next visitor
    v = Visit.objects.get()
    assert (v.route, v.state, str(v.temperature), v.person_id) == ("fever_clinic", "tracking", "38.5", cast.person_a1.pk)
    # A walk-in by name and phone, normal temperature, sent to general outpatients (key 3).
    page.locator("#f-name").fill("路人甲")
    page.locator("#f-phone").fill("13800001111")
    page.locator("#f-temp").fill("36.6")
    page.locator("#f-temp").blur()
    page.keyboard.press("3")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(url(live_server, "clinic_screen", post.pk))
    expect(page.locator("#recent li")).to_have_count(2)
    screenshot(page, "clinic-2-next-visitor-phone")
    assert Visit.objects.filter(route="general", person=None).count() == 1
