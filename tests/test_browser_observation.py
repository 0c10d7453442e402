"""Browser tests of observation (M5): the observed person reports a temperature from a
phone-sized page reached by a personal link; staff see it on the board. The clock is fixed
inside a report window (the live server runs in this process, so the patch reaches it)."""
from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.actions import issue_resident_link
from fangkong.observation import actions
from fangkong.observation.models import Observation, Report
from tests.test_browser import (DESKTOP, PHONE, browser, live_cast, no_horizontal_overflow, open_page,  # noqa: F401
                                screenshot, sign_in, url)

pytestmark = pytest.mark.browser


@pytest.fixture
def morning():
    moment = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(8, 30)))
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield moment


def test_resident_reports_temperature_on_a_phone_and_staff_see_it(live_server, live_cast, open_page, morning):
    obs = actions.start(acting_user=None, person=live_cast.person_a1, kind=Observation.Kind.HOME, days=14)
    token = issue_resident_link(acting_user=None, person=live_cast.person_a1)

    page = open_page(**PHONE)
    page.goto(live_server.url + reverse("resident_home", kwargs={"token": token}))
    field = page.locator("input[name=temperature]")
    field.fill("38.1")
    page.locator("input[name=symptoms][value=cough]").check()
    assert no_horizontal_overflow(page), "the resident's page scrolls sideways on a phone"
    screenshot(page, "observation-1-resident-phone")
    page.locator("form[action$='/report/'] button[type=submit]").click()
    page.wait_for_url(live_server.url + reverse("resident_home", kwargs={"token": token}))
    assert page.locator(".flash").count() >= 1
    screenshot(page, "observation-2-resident-reported-phone")
    rep = Report.objects.get(observation=obs)
    assert str(rep.temperature) == "38.1" and rep.symptoms == ["cough"] and rep.source == "self"
    assert set(obs.alerts.values_list("kind", flat=True)) == {"fever", "symptoms"}
    assert not page.js_errors

    # The grid worker's board puts the fever first; the detail shows the report.
    staff = open_page(**PHONE)
    sign_in(staff, live_server, "worker_a1")
    staff.goto(url(live_server, "observation_board"))
    first = staff.locator("table.list tbody tr").first
    assert "alarm" in (first.get_attribute("class") or "")
    assert no_horizontal_overflow(staff), "the observation board scrolls sideways on a phone"
    screenshot(staff, "observation-3-board-phone")
    staff.goto(url(live_server, "observation_detail", obs.pk))
    assert staff.locator("span.fever").count() >= 1
    screenshot(staff, "observation-4-detail-phone")
