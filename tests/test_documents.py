"""Official documents through HTTP: the committee approves an inflow application, the
approval notice (流入人员审核通过通知单) is issued with it, downloaded as a PDF by those
who may see the application, rendered to PNG (test-artifacts/), its QR code decoded and
followed to the public verify page; revocation; concurrency; the release notice helper."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from fangkong.audit.models import AuditEvent
from fangkong.documents import actions, notices
from fangkong.inflow import notices as inflow_notices
from fangkong.documents.models import Document
from fangkong.documents.pdf import FontMissing, fonts
from fangkong.inflow.models import Application, Origin
from tests.cast import make_id, make_phone

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
S = Application.State


@pytest.fixture
def origin(db):
    return Origin.objects.create(name="湖北省武汉市", risk="medium")


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def approved_application(cast, origin, seq=601, name="季小明") -> Application:
    form = {"name": name, "id_number": make_id(seq), "phone": make_phone(seq), "origin": origin.pk,
            "place": cast.compound_a1.pk, "address": "甲一小区2号楼201室", "purpose": "返岗", "transport": "自驾"}
    resp = as_user(cast.liaison_x).post("/inflow/apply/", form)
    assert resp.status_code == 302, resp.content.decode()[:1000]
    app = Application.objects.get(pk=int(resp["Location"].rstrip("/").rsplit("/", 1)[1]))
    assert as_user(cast.coordinator).post(f"/inflow/{app.pk}/forward/").status_code == 302
    assert as_user(cast.committee_a).post(f"/inflow/{app.pk}/approve/").status_code == 302
    app.refresh_from_db()
    assert app.state == S.APPROVED
    return app


def notice_of(app) -> Document:
    return Document.objects.get(kind="inflow_approval", subject_type="inflow.application", subject_id=app.pk)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    f = tmp_path / "doc.pdf"
    f.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(f), "-"], capture_output=True, text=True, check=True).stdout


def render_png(data: bytes, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = ARTIFACTS / f"{name}.pdf"
    pdf.write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(ARTIFACTS / name)], check=True)
    return ARTIFACTS / f"{name}.png"


def decode_qr(png: Path) -> str | None:
    """The QR payload read back from the rendered page (zbarimg, Debian zbar-tools)."""
    if not shutil.which("zbarimg"):
        if os.environ.get("CI"):
            pytest.fail("zbarimg is missing (apt-get install zbar-tools; .ci/run installs it)")
        return None
    out = subprocess.run(["zbarimg", "-q", "--raw", str(png)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.django_db
def test_seed_case_approval_notice_pdf_qr_and_verify_page(cast, origin, tmp_path):
    app = approved_application(cast, origin)
    doc = notice_of(app)
    person = app.person
    full_id = make_id(601)
    assert doc.title == "流入人员审核通过通知单" and doc.valid and doc.content_intact()
    assert doc.serial == f"TZ{timezone.localdate(doc.issued_at):%Y%m%d}-{doc.pk:06d}"
    assert len(doc.code) >= 22 and doc.issuer == "甲社区居民委员会" and doc.holder == "季*明"
    assert doc.place_path == app.place_path and doc.org_id == cast.org_x.pk
    printed = dict(doc.fields)
    assert printed["申请编号"] == app.serial and printed["姓名"] == "季*明" and printed["身份证号"] == person.id_masked
    assert printed["来源地"] == "湖北省武汉市" and printed["风险等级"] == "中风险"
    assert printed["目的地"].endswith("甲一小区2号楼201室") and "甲社区" in printed["目的地"]
    assert printed["管控措施"] == "居家医学观察，14天"
    assert AuditEvent.objects.filter(action="documents.issue", object_id=str(doc.pk), user__username="committee_a").exists()

    # The inflow page links to it.
    page = as_user(cast.liaison_x).get(f"/inflow/{app.pk}/").content.decode()
    assert f"/documents/{doc.pk}/pdf/" in page and "下载审核通过通知单（PDF）" in page

    # Download: the committee of the community; not the other community's (404), not a guard (403).
    resp = as_user(cast.committee_a).get(f"/documents/{doc.pk}/pdf/")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    assert resp["Cache-Control"] == "no-store" and f'filename="{doc.serial}.pdf"' in resp["Content-Disposition"]
    assert AuditEvent.objects.filter(action="documents.download", object_id=str(doc.pk), user__username="committee_a").exists()
    assert as_user(cast.committee_b).get(f"/documents/{doc.pk}/pdf/").status_code == 404
    assert as_user(cast.guard_a).get(f"/documents/{doc.pk}/pdf/").status_code == 403
    assert as_user(cast.liaison_x).get(f"/documents/{doc.pk}/pdf/").status_code == 200
    assert Client().get(f"/documents/{doc.pk}/pdf/").status_code == 302  # to sign in
    data = resp.content
    assert data.startswith(b"%PDF") and len(data) < 120_000  # the font is subset

    text = pdf_text(data, tmp_path)
    for expected in ("流入人员审核通过通知单", doc.serial, person.id_masked, "季*明", app.serial, "甲社区居民委员会",
                     "扫码核验真伪", f"{doc.issued_at.year}年", "居家医学观察，14天"):
        assert expected in text, expected
    assert full_id not in text and "季小明" not in text and make_phone(601) not in text

    png = render_png(data, "document-inflow-approval")
    assert png.exists() and png.stat().st_size > 10_000
    from PIL import Image

    with Image.open(png) as im:
        lo, hi = im.convert("L").getextrema()
        assert lo < 60 and hi > 200, "the page is blank"
    payload = decode_qr(png)
    assert payload in (None, doc.verify_url())
    url = payload or doc.verify_url()
    assert url == f"{settings.PUBLIC_URL}/v/{doc.code}/"

    # The QR code's page, on anyone's phone: authentic and valid, masked name only.
    verify = Client().get(url.removeprefix(settings.PUBLIC_URL))
    html = verify.content.decode()
    assert verify.status_code == 200 and "真实有效" in html and doc.serial in html and "季*明" in html
    assert "甲社区居民委员会" in html and "流入人员审核通过通知单" in html
    for secret in ("季小明", full_id, person.id_masked, make_phone(601), person.phone_masked):
        assert secret not in html
    assert AuditEvent.objects.filter(action="documents.verify", object_id=str(doc.pk)).exists()

    # Revoked by the committee: the same code now says so, and so does a new download.
    resp = as_user(cast.committee_a).post(f"/documents/{doc.pk}/revoke/", {"reason": "申请人信息有误"})
    assert resp.status_code == 302
    doc.refresh_from_db()
    assert not doc.valid and doc.revoke_reason == "申请人信息有误" and doc.revoked_by == cast.committee_a
    html = Client().get(f"/v/{doc.code}/").content.decode()
    assert "已作废" in html and "真实有效" not in html
    revoked_pdf = as_user(cast.committee_a).get(f"/documents/{doc.pk}/pdf/").content
    assert "已作废" in pdf_text(revoked_pdf, tmp_path)
    assert inflow_notices.issue_inflow_approval(acting_user=cast.committee_a, app=app).pk != doc.pk  # re-issue after revoking

    # A code the platform never issued: a clear "not authentic" page with 404.
    resp = Client().get("/v/NotARealCode0123456789abcdefgh/")
    assert resp.status_code == 404 and "查无此文书" in resp.content.decode()


@pytest.mark.django_db
def test_revoke_access_and_validation(cast, origin):
    doc = notice_of(approved_application(cast, origin, seq=602, name="钱多多"))
    url = f"/documents/{doc.pk}/revoke/"
    assert as_user(cast.guard_a).post(url, {"reason": "x"}).status_code == 403
    assert as_user(cast.worker_a1).post(url, {"reason": "x"}).status_code == 403  # may view, not revoke
    assert as_user(cast.committee_b).post(url, {"reason": "x"}).status_code == 404
    assert as_user(cast.committee_a).get(url).status_code == 405
    assert as_user(cast.committee_a).post(url, {"reason": " "}).status_code == 400
    doc.refresh_from_db()
    assert doc.valid
    assert as_user(cast.committee_a).post(url, {"reason": "重复签发"}).status_code == 302
    assert as_user(cast.committee_a).post(url, {"reason": "重复签发"}).status_code == 409
    # The document page: viewers see it, the other community does not.
    assert "已作废" in as_user(cast.worker_a1).get(f"/documents/{doc.pk}/").content.decode()
    assert as_user(cast.committee_b).get(f"/documents/{doc.pk}/").status_code == 404


@pytest.mark.django_db
def test_api_document(cast, origin):
    doc = notice_of(approved_application(cast, origin, seq=603, name="孙悟空"))
    resp = as_user(cast.committee_a).get(f"/api/documents/{doc.pk}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["serial"] == doc.serial and body["valid"] is True and body["verify_url"].endswith(f"/v/{doc.code}/")
    assert ["姓名", "孙*空"] in body["fields"] and "孙悟空" not in resp.content.decode()
    assert as_user(cast.committee_b).get(f"/api/documents/{doc.pk}").status_code == 404
    assert as_user(cast.guard_a).get(f"/api/documents/{doc.pk}").status_code == 403
    assert Client().get(f"/api/documents/{doc.pk}").status_code == 401


@pytest.mark.django_db
def test_issue_is_idempotent_and_prints_only_masked_numbers(cast):
    kw = dict(acting_user=None, kind="release", subject=cast.person_a2, title="解除医学观察通知书", issuer="甲社区居民委员会")
    first = actions.issue(fields=[("姓名", "靶*乙")], **kw)
    assert actions.issue(fields=[("姓名", "靶*乙")], **kw).pk == first.pk
    assert Document.objects.filter(subject_id=cast.person_a2.pk).count() == 1
    doc = actions.issue(fields=[("身份证号", cast.ids["person_b1"]), ("住址", f"3号楼 联系{cast.phones['person_b1']}")],
                        **{**kw, "subject": cast.person_b1})
    printed = " ".join(v for _l, v in doc.fields)
    assert cast.ids["person_b1"] not in printed and cast.phones["person_b1"] not in printed
    assert cast.phones["person_b1"][:3] + "****" + cast.phones["person_b1"][-4:] in printed
    assert actions.mask_name("季小明") == "季*明" and actions.mask_name("张三") == "张*" and actions.mask_name("欧阳娜娜") == "欧**娜"


@pytest.mark.django_db
def test_release_notice_helper(cast, tmp_path):
    person = cast.person_b1
    start = timezone.localdate() - dt.timedelta(days=14)
    doc = notices.issue_release_notice(
        acting_user=cast.committee_b, subject=person, person=person, place=cast.grid_b1,
        issuer=notices.committee_name(cast.grid_b1), start=start, end=timezone.localdate(), released_at=timezone.now())
    assert doc.kind == "release" and doc.title == "解除医学观察通知书" and doc.issuer == "乙社区居民委员会"
    assert doc.place_path == cast.grid_b1.path and doc.org_id == cast.org_y.pk
    assert as_user(cast.committee_a).get(f"/documents/{doc.pk}/pdf/").status_code == 404
    resp = as_user(cast.committee_b).get(f"/documents/{doc.pk}/pdf/")
    assert resp.status_code == 200
    text = pdf_text(resp.content, tmp_path)
    assert "解除医学观察通知书" in text and "靶*丙" in text and person.id_masked in text and cast.ids["person_b1"] not in text
    png = render_png(resp.content, "document-release")
    assert decode_qr(png) in (None, doc.verify_url())


def test_no_cjk_font_is_a_clear_error(tmp_path):
    bogus = tmp_path / "latin.ttf"
    bogus.write_bytes(b"not a font")
    with pytest.raises(FontMissing, match="FANGKONG_PDF_FONT"):
        fonts(str(bogus))


@pytest.mark.django_db
@override_settings(VERIFY_MISS_RATE=(3, 600))
def test_unknown_codes_are_rate_limited(cast):
    c = Client()
    answers = [c.get(f"/v/unknown-code-{i:020d}/") for i in range(4)]
    assert [r.status_code for r in answers] == [404, 404, 404, 429]
    assert 1 <= int(answers[-1]["Retry-After"]) <= 600
    # Another address is not limited by the first one's misses.
    assert c.get("/v/unknown-code-00000000000000000009/", REMOTE_ADDR="10.9.9.9").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_racing_approvals_and_issues_make_one_document(db):
    from tests.cast import build_cast

    cast = build_cast()
    origin = Origin.objects.create(name="某省", risk="medium")
    now = timezone.now()
    app = Application.objects.create(
        serial="LR-DOC-RACE", person=cast.person_a1, employer=cast.org_x, household=cast.hh_a1, place=cast.hh_a1.place,
        place_path=cast.hh_a1.place_path, origin=origin, risk="medium", state=S.FORWARDED, submitted_at=now,
        forwarded_at=now, review_due_at=now)

    def race(n, fn):
        barrier, out = threading.Barrier(n), [None] * n

        def go(i):
            try:
                barrier.wait()
                out[i] = fn(i)
            finally:
                connection.close()

        threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    # Two committee members approve at once: one wins, one notice.
    codes = race(2, lambda i: as_user(cast.committee_a).post(f"/inflow/{app.pk}/approve/").status_code)
    assert sorted(codes) == [302, 409], codes
    assert Document.objects.filter(subject_type="inflow.application", subject_id=app.pk).count() == 1

    # Issuing the same notice from several threads at once returns the one document.
    kw = dict(acting_user=None, kind="release", subject=cast.person_a2, title="解除医学观察通知书",
              fields=[("姓名", "靶*乙")], issuer="甲社区居民委员会")
    pks = race(4, lambda i: actions.issue(**kw).pk)
    assert len(set(pks)) == 1 and Document.objects.filter(subject_id=cast.person_a2.pk, kind="release").count() == 1

    # Different subjects at once: distinct, unique serial numbers.
    subjects = [cast.person_b1, cast.hh_a1, cast.hh_a2, cast.hh_b1]
    docs = race(4, lambda i: actions.issue(**{**kw, "subject": subjects[i]}))
    serials = list(Document.objects.values_list("serial", flat=True))
    assert len(serials) == len(set(serials)) == 6 and all(s.startswith("TZ") for s in serials)
    assert len({d.code for d in docs}) == 4


SHEET_TEXT = "张三丰 龘 𠀀 Ⅻ ① 居家观察第3天，体温36.8℃；核验：扫码 №0042"


def _sheet(add, text=SHEET_TEXT) -> bytes:
    """A page of both faces, with characters outside the common ones and one the font
    lacks, fonts added by `add`; a fixed date so that two runs can be compared."""
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format=(105, 148))
    pdf.set_creation_date(dt.datetime(2022, 4, 1, 8, 0, tzinfo=dt.timezone.utc))
    add(pdf)
    pdf.add_page()
    pdf.set_font("title", size=18)
    pdf.cell(text="健康通行卡 Health pass")
    pdf.ln(12)
    pdf.set_font("body", size=11)
    pdf.multi_cell(80, 6, text=text)
    return bytes(pdf.output())


def test_the_kept_font_makes_the_same_pdf_as_add_font():
    """documents.pdf.add_fonts copies the font parsed once per process instead of fpdf2's
    add_font each time: the PDF must be byte for byte what add_font makes, the first time
    (the kept font made) and every time after (a PDF does not change the kept font)."""
    from fangkong.documents.pdf import _KEPT, add_fonts

    f = fonts(settings.PDF_FONT)

    def add_font(pdf):
        pdf.add_font("body", fname=f["body"][0], collection_font_number=f["body"][1])
        pdf.add_font("title", fname=f["title"][0], collection_font_number=f["title"][1])

    other = "李四 鑫淼 龍 应急物资：口罩 200 只、消毒液 50 L"
    expected, expected_other = _sheet(add_font), _sheet(add_font, other)
    _KEPT.clear()
    assert _sheet(add_fonts) == expected  # the kept font made by this call
    assert len(_KEPT) == 2
    # Copied from it, with other characters in between: nothing of one PDF (its subset,
    # its widths, the font cut down when written) is left in the next.
    assert _sheet(add_fonts, other) == expected_other
    assert _sheet(add_fonts) == expected
    # Nothing a PDF's writing sets is left in the kept font (server threads write PDFs
    # side by side from it): not its descriptor's object number nor its font file.
    for kept in _KEPT.values():
        assert kept.desc._id is None and kept.desc.font_name is None and not hasattr(kept.desc, "font_file3")
        assert not kept.missing_glyphs and kept.subset._next <= 1
        assert kept.ttfont is None  # each PDF opens its own; the decoded tables are not kept
    assert b"/FontFile3" in expected and len(expected) < 60_000  # a CFF subset embedded, not the whole font


def test_pdfs_made_at_once_in_threads_are_whole():
    """Server threads render PDFs side by side from the same kept font: each is the PDF
    rendered alone."""
    from fangkong.documents.pdf import add_fonts

    expected = _sheet(add_fonts)
    got, errors = [], []

    def render():
        try:
            got.append(_sheet(add_fonts))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=render) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and got == [expected] * 4
