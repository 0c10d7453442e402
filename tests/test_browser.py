"""Browser tests (DESIGN.md §4): the real pages in headless Chromium through Playwright.

They drive the system Chromium (/usr/bin/chromium, never a downloaded browser) against
pytest-django's live server, then check the stored state. Elements are found by name, id,
role or CSS, never by visible text, so the tests pass whatever language the UI is in.

Without Chromium the tests skip, unless FANGKONG_REQUIRE_BROWSER=1 (set by CI): then they
fail. Screenshots go to test-artifacts/ (git-ignored).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from django.urls import reverse

from fangkong.audit.models import AuditEvent
from fangkong.residents.models import Household, ImportJob, ImportRowError, Person
from tests.cast import PASSWORD, build_cast, make_id, make_phone

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT_MS = 15_000


# --- Fixtures -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """Headless system Chromium. The one place that decides skip versus fail: without a
    browser the tests skip, unless FANGKONG_REQUIRE_BROWSER=1, where they fail instead."""
    required = os.environ.get("FANGKONG_REQUIRE_BROWSER") == "1"

    def unavailable(reason: str):
        if required:
            pytest.fail(f"{reason}, and FANGKONG_REQUIRE_BROWSER=1 forbids skipping the browser tests", pytrace=False)
        pytest.skip(f"{reason} (set FANGKONG_REQUIRE_BROWSER=1 to make this a failure)")

    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"no executable Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install -e '.[test]')")

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def live_cast(transactional_db):
    """The fixed cast, committed so the live server's thread sees it (the `cast` fixture
    in conftest runs inside a test transaction, which the server cannot see)."""
    return build_cast()


@pytest.fixture
def open_page(browser):
    """open_page(**context options) -> a new page in a fresh context (own cookies), with
    the browser's language set to Chinese (the default UI) and JavaScript errors collected
    in page.js_errors; a Content-Security-Policy violation on any page fails the test."""
    contexts = []

    def _open(**options):
        context = browser.new_context(locale="zh-CN", **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
        # What the Content-Security-Policy refused (an inline script or handler, a foreign
        # source): Chromium reports each on the console; any one fails the test below.
        page.csp_violations = []
        page.on("console", lambda msg: "Content Security Policy" in msg.text and page.csp_violations.append(msg.text))
        pages.append(page)
        return page

    pages = []
    yield _open
    violations = [v for page in pages for v in page.csp_violations]
    for context in contexts:
        context.close()
    assert not violations, violations


# --- Helpers --------------------------------------------------------------------------

def url(live_server, name, *args) -> str:
    return live_server.url + reverse(name, args=args)


def sign_in(page, live_server, username: str) -> None:
    """Through the real login form."""
    page.goto(url(live_server, "login"))
    form = page.locator("main form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    page.wait_for_url(url(live_server, "home"))
    assert page.locator("form[action='%s']" % reverse("logout")).count() == 1, "not signed in"


def open_menu(page) -> None:
    """The header's menu is collapsed on a phone: open it (a no-op where it is open)."""
    menu = page.locator("details#site-menu")
    if menu.count() and not menu.evaluate("d => d.open"):
        menu.locator("summary").click()


def wait_for_htmx(page) -> None:
    page.wait_for_function("() => window.htmx !== undefined")


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_horizontal_overflow(page) -> bool:
    """The page does not scroll sideways. Compared with the configured viewport, not with
    window.innerWidth, which a mobile context widens to fit overflowing content. One pixel
    is allowed for sub-pixel rounding (Pico's header nav stuck out by 0.9 px with some labels)."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    return width <= page.viewport_size["width"] + 1


# --- Tests ----------------------------------------------------------------------------

def test_committee_finds_resident_by_id_number_and_sees_masked_number(live_server, live_cast, open_page):
    from playwright.sync_api import expect

    cast = live_cast
    person, full_id = cast.person_a1, cast.ids["person_a1"]
    masked = full_id[:6] + "*" * 8 + full_id[-4:]
    page = open_page(**PHONE)

    sign_in(page, live_server, cast.committee_a.username)
    open_menu(page)
    page.locator(f"header nav a[href='{reverse('person_list')}']").click()
    page.wait_for_url(url(live_server, "person_list"))
    wait_for_htmx(page)
    # Community A holds two persons before the search.
    expect(page.locator("#results tbody tr")).to_have_count(2)

    search = page.locator("form.filters")
    search.locator("input[name=q]").fill(full_id)
    with page.expect_response(lambda r: r.url.startswith(url(live_server, "person_list")) and r.request.method == "POST") as resp:
        search.locator("button[type=submit]").click()
    assert resp.value.status == 200
    assert resp.value.request.headers.get("hx-request") == "true", "the search should go through htmx"
    assert full_id not in resp.value.url and full_id not in page.url, "the ID must never travel in a URL"
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    link = rows.first.locator("td a")
    expect(link).to_have_attribute("href", reverse("person_detail", args=[person.pk]))
    expect(rows.first.locator("td.masked").first).to_have_text(masked)
    assert full_id not in page.content()
    assert no_horizontal_overflow(page), "the resident list scrolls sideways on a phone"
    screenshot(page, "browser-1-search-phone")

    link.click()
    page.wait_for_url(url(live_server, "person_detail", person.pk))
    expect(page.locator("h1")).to_have_text(person.name)
    expect(page.locator("#id-number")).to_have_text(masked)
    assert re.fullmatch(r"370102\*{8}\d{3}[\dX]", masked)
    assert full_id not in page.content()
    assert no_horizontal_overflow(page), "the detail page scrolls sideways on a phone"
    screenshot(page, "browser-1-detail-phone")
    assert page.js_errors == []

    user = cast.committee_a
    assert AuditEvent.objects.filter(action="person.view", user=user, object_id=str(person.pk), outcome="ok").count() == 1
    searched = AuditEvent.objects.filter(action="person.list", user=user).exclude(detail__q="")
    assert searched.count() == 1
    # The audit trail never holds the plain number, not even the search term.
    for event in AuditEvent.objects.all():
        assert full_id not in json.dumps(event.detail, ensure_ascii=False)
    assert not AuditEvent.objects.filter(action="person.unmask").exists()


def test_unmask_shows_full_id_through_htmx_and_is_audited(live_server, live_cast, open_page):
    from playwright.sync_api import expect

    cast = live_cast
    person, full_id = cast.person_a1, cast.ids["person_a1"]
    page = open_page(**DESKTOP)
    sign_in(page, live_server, cast.committee_a.username)
    page.goto(url(live_server, "person_detail", person.pk))
    wait_for_htmx(page)
    assert full_id not in page.content()
    expect(page.locator("#id-number-full")).to_have_count(0)

    unmask = page.locator("#unmask form")
    unmask.locator("input[name=reason]").fill("核对疫苗接种登记")
    with page.expect_response(url(live_server, "person_unmask", person.pk)) as resp:
        unmask.locator("button[type=submit]").click()
    assert resp.value.status == 200
    assert resp.value.request.headers.get("hx-request") == "true", "the reveal should go through htmx"
    expect(page.locator("#unmask #id-number-full")).to_have_text(full_id)
    # Swapped in place: still the detail page, the masked number still shown above.
    assert page.url == url(live_server, "person_detail", person.pk)
    expect(page.locator("#id-number")).to_have_text(full_id[:6] + "*" * 8 + full_id[-4:])
    expect(page.locator("#unmask form")).to_have_count(0)
    screenshot(page, "browser-2-unmasked-desktop")
    assert page.js_errors == []

    events = AuditEvent.objects.filter(action="person.unmask", user=cast.committee_a, object_id=str(person.pk))
    assert events.count() == 1
    event = events.get()
    assert event.detail == {"reason": "核对疫苗接种登记"}
    assert full_id not in json.dumps(event.detail, ensure_ascii=False)
    assert event.place_path == person.place_path


def test_import_csv_maps_columns_runs_and_reports_errors(live_server, live_cast, open_page, settings, tmp_path):
    from playwright.sync_api import expect

    settings.IMPORT_DIR = tmp_path / "imports"  # the live server runs in this process
    cast = live_cast
    good = [make_id(101), make_id(102)]
    valid_third = make_id(103)
    bad = valid_third[:-1] + ("0" if valid_third[-1] != "0" else "1")  # wrong check digit
    csv_path = tmp_path / "居民名单.csv"
    csv_path.write_text(
        "姓名,身份证号,联系电话,住址\n"
        f"导入甲,{good[0]},{make_phone(101)},甲一小区2号楼201室\n"
        f"导入乙,{good[1]},{make_phone(102)},甲一小区2号楼202室\n"
        f"导入丙,{bad},{make_phone(103)},甲一小区2号楼203室\n",
        encoding="utf-8",
    )
    persons_before = Person.objects.count()

    page = open_page(**PHONE)
    sign_in(page, live_server, cast.committee_a.username)
    open_menu(page)
    page.locator(f"header nav a[href='{reverse('import_upload')}']").click()
    page.wait_for_url(url(live_server, "import_upload"))
    upload = page.locator("main form[enctype='multipart/form-data']")
    upload.locator("input[name=file]").set_input_files(str(csv_path))
    upload.locator("select[name=place]").select_option(str(cast.comm_a.pk))
    upload.locator("button[type=submit]").click()

    page.wait_for_url(re.compile(re.escape(live_server.url) + r"/residents/import/\d+/$"))
    job = ImportJob.objects.get(created_by=cast.committee_a)
    assert page.url == url(live_server, "import_job", job.pk)
    # The mapping screen shows the mapping detected from the Chinese headers.
    detected = {"col_0": "name", "col_1": "id_number", "col_2": "phone", "col_3": "address"}
    expect(page.locator("main form select")).to_have_count(len(detected))
    for name, field in detected.items():
        expect(page.locator(f"main form select[name={name}]")).to_have_value(field)
    assert no_horizontal_overflow(page), "the import mapping page scrolls sideways on a phone"
    screenshot(page, "browser-3-mapping-phone")

    page.locator(f"main form[action='{reverse('import_start', args=[job.pk])}'] button[type=submit]").click()
    page.wait_for_url(url(live_server, "import_job", job.pk))
    progress = page.locator("#progress")
    expect(progress).to_be_visible()
    expect(progress.locator("#created")).to_have_text("2")
    expect(progress.locator("#errors")).to_have_text("1")
    expect(progress.locator("#updated")).to_have_text("0")
    expect(progress.locator("#unchanged")).to_have_text("0")
    expect(progress.locator("progress")).to_have_attribute("value", "100")
    report = progress.locator(f"a[href='{reverse('import_errors', args=[job.pk])}']")
    expect(report).to_have_count(1)
    assert no_horizontal_overflow(page), "the import progress page scrolls sideways on a phone"
    screenshot(page, "browser-3-progress-phone")
    assert page.js_errors == []

    # The error report downloads with the session of the page.
    response = page.request.get(url(live_server, "import_errors", job.pk))
    assert response.status == 200
    assert "csv" in response.headers["content-type"]
    body = response.body().decode("utf-8-sig")
    assert "\n4," in body.replace("\r\n", "\n") and "身份证号" in body

    # Stored state.
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert job.mapping == {"0": "name", "1": "id_number", "2": "phone", "3": "address"}
    assert (job.total_rows, job.processed_rows) == (3, 3)
    assert (job.created_count, job.updated_count, job.unchanged_count, job.error_count) == (2, 0, 0, 1)
    assert list(ImportRowError.objects.filter(job=job).values_list("row", "column")) == [(4, "身份证号")]
    assert Person.objects.count() == persons_before + 2
    imported = Person.objects.filter(name__in=["导入甲", "导入乙", "导入丙"])
    assert sorted(p.name for p in imported) == ["导入乙", "导入甲"]
    for p in imported:
        assert p.place_id == cast.comm_a.pk
        assert p.id_number() in good
        assert p.household is not None and p.household.place_id == cast.comm_a.pk
    assert Household.objects.filter(place=cast.comm_a, address="甲一小区2号楼201室").exists()
    assert AuditEvent.objects.filter(action="residents.import.confirm", user=cast.committee_a, object_id=str(job.pk)).exists()
    assert AuditEvent.objects.filter(action="residents.import.errors", user=cast.committee_a, object_id=str(job.pk)).exists()
