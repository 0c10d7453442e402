"""Browser tests of the to-do list and private uploads on a 390 px phone, in Chinese: the
grid worker's and the committee member's home pages list what they must do first; the
grid worker takes a photo of a finding on its page (sent at once with a progress bar) and
sees its thumbnail."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone
from PIL import Image

from fangkong.inflow.models import Application
from fangkong.observation.models import Alert
from fangkong.uploads.models import Attachment
from tests.matrix import census as census_objects
from tests.matrix import declarations as declaration_objects
from tests.matrix import inflow as inflow_objects
from tests.matrix import observation as observation_objects
from tests.test_browser import PHONE, browser, live_cast, no_horizontal_overflow, open_page, screenshot, sign_in  # noqa: F401

pytestmark = pytest.mark.browser


def _work(cast):
    """Some of everything the two roles of community A must do."""
    arrival = inflow_objects.application(cast)
    Application.objects.filter(pk=arrival.pk).update(state="travelling", due_link="arrive",
                                                     due_at=timezone.now() - dt.timedelta(hours=2))
    obs = observation_objects.observation(cast)
    Alert.objects.create(observation=obs, kind=Alert.Kind.FEVER, day=timezone.localdate(), window=0, detail="38.6")
    declaration_objects.declaration(cast)
    census_objects.followup(cast)
    return declaration_objects.finding(cast)


@pytest.mark.parametrize("who, expected", [
    ("worker_a1", ["inflow.arrive", "observation.fever", "declarations.verify_risk", "census.followups"]),
    ("committee_a", ["inflow.arrive", "observation.fever", "declarations.verify_risk", "declarations.confirm"]),
])
def test_home_lists_the_todos_first_on_a_phone(live_server, live_cast, open_page, settings, who, expected):
    settings.OBSERVATION_WINDOWS = [(dt.time(0, 0), dt.time(23, 59, 59, 999999))]
    _work(live_cast)
    page = open_page(**PHONE)
    sign_in(page, live_server, who)
    page.goto(live_server.url + "/")
    todos = page.locator("#todos")
    assert "待办事项" in todos.locator("h2").inner_text()
    keys = todos.locator("li").evaluate_all("els => els.map(e => e.dataset.key)")
    assert [k for k in keys if k in expected] == expected, keys
    first = todos.locator("li").first
    assert "已超时" in first.inner_text() and "今日应到或已逾期的到达登记" in first.inner_text()
    # The list comes before everything else of the page, and each row is a comfortable tap.
    assert page.evaluate("() => document.querySelector('main h1').nextElementSibling.id") == "todos"
    heights = todos.locator("a").evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
    assert min(heights) >= 44, heights
    assert no_horizontal_overflow(page)
    screenshot(page, f"todos-home-{who}-phone")
    assert not page.js_errors


def test_grid_worker_adds_a_photo_to_a_finding_on_a_phone(live_server, live_cast, open_page):
    finding = declaration_objects.finding(live_cast)
    page = open_page(**PHONE)
    sign_in(page, live_server, "worker_a1")
    page.goto(f"{live_server.url}/declarations/findings/{finding.pk}/")
    panel = page.locator("[data-attachments]")
    assert "暂无照片" in panel.inner_text()
    assert panel.locator("input[type=file]").get_attribute("capture") == "environment"
    photo = io.BytesIO()
    Image.new("RGB", (1200, 900), (30, 140, 90)).save(photo, "JPEG")
    panel.locator("input[type=file]").set_input_files(files=[{"name": "现场.jpg", "mimeType": "image/jpeg",
                                                                 "buffer": photo.getvalue()}])
    page.wait_for_selector("[data-attachments] .thumbs img")
    page.wait_for_function("() => document.querySelector('[data-attachments] .thumbs img').naturalWidth > 0")
    att = Attachment.objects.get()
    assert (att.owner_id, att.width, att.height) == (finding.pk, 1200, 900)
    assert page.url.endswith(f"/declarations/findings/{finding.pk}/")  # replaced in place, no reload
    # A file that is not a photo: the message in Chinese, in the panel.
    page.locator("[data-attachments] input[type=file]").set_input_files(files=[
        {"name": "x.jpg", "mimeType": "image/jpeg", "buffer": b"<html>not a photo</html>"}])
    page.wait_for_selector("[data-attachments] [role=alert]:not([hidden])")
    assert "不是图片" in page.locator("[data-attachments] [role=alert]").inner_text()
    assert Attachment.objects.count() == 1
    assert no_horizontal_overflow(page)
    screenshot(page, "uploads-finding-photo-phone")
    assert not page.js_errors
