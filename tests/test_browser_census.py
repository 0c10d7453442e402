"""Browser test of the census (M3): a grid worker records a visit on a phone-sized page,
picking a household of the grid not yet reached and answering for the member present."""
from __future__ import annotations

import pytest

from fangkong.census.models import Answer, FollowUp, Visit
from tests.test_browser import (PHONE, browser, live_cast, no_horizontal_overflow, open_page,  # noqa: F401
                                screenshot, sign_in, url)
from tests.test_census import make_campaign

pytestmark = pytest.mark.browser


def test_grid_worker_records_a_visit_on_a_phone(live_server, live_cast, open_page):
    cast = live_cast
    campaign = make_campaign(cast.comm_a)
    page = open_page(**PHONE)
    sign_in(page, live_server, "worker_a1")
    page.goto(url(live_server, "census_visit", campaign.pk))
    households = page.locator("#households a")
    assert households.count() == 1 and cast.hh_a1.address in households.first.inner_text()
    assert no_horizontal_overflow(page), "the household picker scrolls sideways on a phone"
    screenshot(page, "census-1-pick-household-phone")
    households.first.click()
    page.wait_for_selector("#visit-form")
    member = page.locator(f"#member-{cast.person_a1.pk}")
    assert "靶子甲" in member.inner_text()
    for key in ("source_area", "contact_source", "contact_confirmed"):
        member.locator(f"input[name=q_{cast.person_a1.pk}_{key}][value=no]").check()
    member.locator(f"input[name=q_{cast.person_a1.pk}_gathering][value=yes]").check()
    member.locator(f"input[name=q_{cast.person_a1.pk}_temperature]").fill("36.7")
    # Touch targets: every answer label is at least 44 px high.
    heights = page.eval_on_selector_all("fieldset.choice label", "els => els.map(e => e.getBoundingClientRect().height)")
    assert heights and min(heights) >= 44, heights
    assert no_horizontal_overflow(page), "the visit form scrolls sideways on a phone"
    screenshot(page, "census-2-visit-form-phone")
    page.locator("#visit-form button[type=submit]").click()
    page.wait_for_url(url(live_server, "census_visit", campaign.pk))
    assert "已登记走访" in page.locator(".flash").first.inner_text()
    assert page.locator("#households a").count() == 0  # 户户过关: nothing left in this grid
    screenshot(page, "census-3-recorded-phone")
    assert not page.js_errors

    visit = Visit.objects.get()
    assert (visit.household_id, visit.outcome, visit.persons) == (cast.hh_a1.pk, "reached", 1)
    assert Answer.objects.filter(visit=visit).count() == 5
    assert FollowUp.objects.get().person_id == cast.person_a1.pk  # gathering: yes
