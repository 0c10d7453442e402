"""Browser test of self-declaration (M7): a resident scans the community's QR code and
declares a risk on a 390 px wide phone page, without signing in, and gets the receipt;
then the grid worker sees it first in the queue and finds it false, and the resident reads
the entry on their personal-link page and appeals."""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.actions import issue_resident_link
from fangkong.declarations import actions
from fangkong.declarations.models import Appeal, CreditEntry, Declaration
from tests.test_browser import (PHONE, browser, live_cast, no_horizontal_overflow, open_page,  # noqa: F401
                                screenshot, sign_in)

pytestmark = pytest.mark.browser


def test_resident_declares_a_risk_on_a_phone_and_gets_a_receipt(live_server, live_cast, open_page):
    cast = live_cast
    point = actions.ensure_point(acting_user=cast.committee_a, place=cast.comm_a)
    page = open_page(**PHONE)
    page.goto(live_server.url + reverse("declarations_declare", kwargs={"code": point.code}))
    assert "健康自我申报" in page.locator("h1").inner_text()
    assert no_horizontal_overflow(page), "the declaration form scrolls sideways on a phone"
    # First a wrong ID number: a clear message in Chinese, nothing stored.
    page.fill("#id_name", "靶子甲")
    page.fill("#id_id_number", cast.ids["person_a1"][:-1] + ("0" if cast.ids["person_a1"][-1] != "0" else "1"))
    page.fill("#id_phone", cast.phones["person_a1"])
    page.fill("#id_address", "甲一小区1号楼101室")
    page.fill("#id_temperature", "37.8")
    page.locator("#symptoms input[value=fever]").check()
    page.locator("#symptoms input[value=cough]").check()
    page.locator("#risk_area input[value=yes]").check()
    page.locator("#contact_case input[value=no]").check()
    page.locator("#contact_risk_area input[value=no]").check()
    today = timezone.localdate()
    page.fill("input[name=travel_place_0]", "某市高风险区")
    page.fill("input[name=travel_from_0]", (today - dt.timedelta(days=4)).isoformat())
    page.fill("input[name=travel_to_0]", (today - dt.timedelta(days=1)).isoformat())
    page.locator("label.pledge input").check()
    heights = page.eval_on_selector_all(".declare fieldset.choice label", "els => els.map(e => e.getBoundingClientRect().height)")
    assert heights and min(heights) >= 44, heights
    screenshot(page, "declarations-1-form-phone")
    page.locator("#declare-form button[type=submit]").click()
    page.wait_for_selector("#id_number-errors")
    assert "校验位" in page.locator("#id_number-errors").inner_text()
    assert Declaration.objects.count() == 0
    # The form kept what was typed; correct the number and send again.
    assert page.input_value("#id_address") == "甲一小区1号楼101室"
    assert page.locator("#symptoms input[value=fever]").is_checked()
    page.fill("#id_id_number", cast.ids["person_a1"])
    page.locator("#declare-form button[type=submit]").click()
    page.wait_for_selector("#receipt")
    decl = Declaration.objects.get()
    assert page.locator("#receipt-serial").inner_text() == decl.serial
    assert page.locator("#receipt-id").inner_text() == cast.person_a1.id_masked
    assert cast.ids["person_a1"] not in page.content() and cast.phones["person_a1"] not in page.content()
    assert page.locator("#receipt-risk").is_visible()
    assert no_horizontal_overflow(page), "the receipt scrolls sideways on a phone"
    screenshot(page, "declarations-2-receipt-phone")
    assert not page.js_errors
    # From the public page it is anyone's word: routed to the person's grid, matched to nobody.
    assert (decl.person_id, decl.place_path, decl.risk, decl.risk_area, decl.symptom_list) == (
        None, cast.person_a1.place_path, True, True, ["fever", "cough"])

    # The grid worker finds it false on the phone; the resident reads the entry and appeals.
    staff = open_page(**PHONE)
    sign_in(staff, live_server, "worker_a1")
    staff.goto(live_server.url + reverse("declarations_queue"))
    first = staff.locator("#queue tbody tr").first
    assert "靶子甲" in first.inner_text() and "alarm" in (first.get_attribute("class") or "")
    assert no_horizontal_overflow(staff)
    first.locator("a").first.click()
    staff.wait_for_selector("#check-form")
    # Having checked with the person, the grid worker matches it to them first.
    staff.locator("form[action$='/match/'] button").click()
    staff.wait_for_selector("#check-form")
    staff.fill("#id_note", "门岗记录显示其从高风险区返回后隐瞒发热")
    staff.locator("#check-form button", has_text="查实不实").click()
    staff.wait_for_url(live_server.url + reverse("declarations_queue"))
    entry = CreditEntry.objects.get()
    assert entry.person_id == cast.person_a1.pk

    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    page.goto(live_server.url + reverse("resident_credit", kwargs={"token": token}))
    assert "门岗记录显示其从高风险区返回后隐瞒发热" in page.content()
    page.locator(f"#entry-{entry.pk} summary").click()
    page.fill(f"#id_text_{entry.pk}", "当天在医院，有就诊记录")
    page.locator(f"#entry-{entry.pk} button[type=submit]").click()
    page.wait_for_selector(".appeal")
    assert "待决定" in page.locator(".appeal").inner_text()
    assert page.locator(f"#entry-{entry.pk} details").count() == 0  # one open appeal per entry
    assert no_horizontal_overflow(page)
    screenshot(page, "declarations-3-credit-appeal-phone")
    assert Appeal.objects.get().entry_id == entry.pk
    assert not page.js_errors and not staff.js_errors
