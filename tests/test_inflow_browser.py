"""The person's own return application through a personal link, on a 390 px phone, in
headless Chromium (fixtures and helpers of tests/test_browser.py)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from fangkong.accounts.actions import issue_resident_link
from fangkong.inflow.models import Application, Origin
from tests.test_browser import PHONE, browser, live_cast, no_horizontal_overflow, open_page, screenshot  # noqa: F401

pytestmark = pytest.mark.browser


def test_person_applies_on_a_phone(live_server, live_cast, open_page):  # noqa: F811
    origin = Origin.objects.create(name="河南省濮阳市", risk="medium")
    token = issue_resident_link(acting_user=None, person=live_cast.person_a1)
    page = open_page(**PHONE)
    page.goto(f"{live_server.url}/r/{token}/return/")
    assert no_horizontal_overflow(page), "the form scrolls sideways at 390 px"
    assert page.locator("#id_address").input_value() == "甲一小区1号楼101室"  # the registered household
    page.select_option("#id_origin", str(origin.pk))
    day = timezone.localdate() + dt.timedelta(days=1)
    page.fill("#id_planned_arrival", day.isoformat())
    page.fill("#id_transport", "高铁")
    page.locator("main form button[type=submit]").click()
    page.wait_for_selector("article.resident-app")
    screenshot(page, "inflow-resident-return-phone")
    assert no_horizontal_overflow(page), "the result scrolls sideways at 390 px"
    app = Application.objects.get(person=live_cast.person_a1)
    assert (app.origin, app.planned_arrival, app.employer) == (origin, day, live_cast.org_x)
    assert page.locator(f"#app-{app.serial}").count() == 1
    assert not page.js_errors
