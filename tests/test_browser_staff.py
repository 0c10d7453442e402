"""Browser test of staff onboarding on a 390×844 phone, in Chinese: a committee member
uploads a small staff list, watches its progress, prints the sheet of one-time QR codes;
a new grid worker opens the link of their code and sets a password."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from django.contrib.auth import get_user_model

from fangkong.accounts.models import OnboardingJob, SignInLink
from fangkong.places.models import Grant
from tests.test_browser import (ARTIFACTS, PHONE, browser, live_cast, no_horizontal_overflow, open_page,  # noqa: F401
                                screenshot, sign_in)

pytestmark = pytest.mark.browser


def qr_links(pdf: bytes) -> list[str]:
    """Every QR payload of the sheet's first page, read back (pdftoppm + zbarimg)."""
    if not (shutil.which("zbarimg") and shutil.which("pdftoppm")):
        pytest.fail("zbarimg and pdftoppm are needed (apt-get install zbar-tools poppler-utils)")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "staff-qr-sheet.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1", "-singlefile", str(path),
                    str(ARTIFACTS / "staff-qr-sheet")], check=True)
    out = subprocess.run(["zbarimg", "-q", "--raw", str(ARTIFACTS / "staff-qr-sheet.png")], capture_output=True, text=True)
    return out.stdout.split()


def test_committee_onboards_a_list_prints_codes_and_a_grid_worker_sets_a_password(live_server, live_cast, open_page,
                                                                                   settings, tmp_path):
    settings.IMPORT_DIR = tmp_path / "imports"
    cast = live_cast
    sheet = tmp_path / "网格员名单.csv"
    sheet.write_text("姓名,手机号,角色,地点编码\n新网格员甲,13600000001,网格员,A1\n新志愿者乙,13600000002,志愿者,A2\n"
                     "越权丙,13600000003,medic,A1\n", encoding="utf-8")
    page = open_page(**PHONE)
    sign_in(page, live_server, cast.committee_a.username)
    page.goto(live_server.url + "/staff/")
    page.locator("main a", has_text="批量导入人员").click()
    form = page.locator("main form[enctype='multipart/form-data']")
    form.locator("select[name=place]").select_option(str(cast.comm_a.pk))
    form.locator("input[name=file]").set_input_files(str(sheet))
    assert no_horizontal_overflow(page)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/staff/onboard/\d+/$"))
    page.wait_for_selector("#print-sheet", timeout=15_000)  # the progress section polls until done
    job = OnboardingJob.objects.get()
    assert (job.created_count, job.error_count) == (2, 1)
    assert page.locator("#created").inner_text() == "2" and page.locator("#errors").inner_text() == "1"
    assert "您无权在该处授予此角色" in page.locator("main").inner_text()
    assert no_horizontal_overflow(page)
    screenshot(page, "staff-onboard-phone")
    with page.expect_download() as info:
        page.locator("#print-sheet").click()
    pdf = open(info.value.path(), "rb").read()
    assert pdf.startswith(b"%PDF")
    links = qr_links(pdf)
    assert len(links) == 2 and all("/signin/" in link for link in links), links
    assert not page.js_errors

    worker = get_user_model().objects.get(first_name="新网格员甲")
    assert Grant.objects.get(user=worker).role == "grid_worker"
    mine = next(link for link in links if SignInLink.objects.filter(
        user=worker, token_hash=__import__("hashlib").sha256(link.rstrip("/").rsplit("/", 1)[1].encode()).hexdigest()).exists())
    phone = open_page(**PHONE)
    phone.goto(live_server.url + "/" + mine.split("://", 1)[1].split("/", 1)[1])
    assert worker.username in phone.locator("main").inner_text()
    phone.locator("#password").fill("网格员的新密码2026")
    phone.locator("#password2").fill("网格员的新密码2026")
    assert no_horizontal_overflow(phone)
    screenshot(phone, "staff-signin-link-phone")
    phone.locator("main button[type=submit]").click()
    phone.wait_for_url(live_server.url + "/")
    assert "网格员" in phone.locator("main").inner_text()
    worker.refresh_from_db()
    assert worker.check_password("网格员的新密码2026")
    # The link works once.
    phone.goto(live_server.url + "/" + mine.split("://", 1)[1].split("/", 1)[1])
    assert "已过期或已被使用" in phone.locator("main").inner_text()
    assert not phone.js_errors
