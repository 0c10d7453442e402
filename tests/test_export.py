"""Exports: masked by default, full numbers only with the unmask permission, safe against
formula injection, audited."""
import csv
import io
import json

from openpyxl import load_workbook

from fangkong.audit.models import AuditEvent
from fangkong.residents.actions import create_household, create_person
from fangkong.residents.validation import validate_person
from tests.cast import make_id


def xlsx_rows(resp):
    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content)), read_only=True)
    return [list(r) for r in wb.active.iter_rows(values_only=True)]


def csv_rows(resp):
    text = b"".join(resp.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # BOM so that Excel reads UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


def test_xlsx_export_masked_and_scoped(cast, login):
    resp = login(cast.committee_a).post("/residents/export/", {"format": "xlsx"})
    assert resp.status_code == 200 and resp["Cache-Control"] == "no-store"
    rows = xlsx_rows(resp)
    names = sorted(r[0] for r in rows[1:])
    assert names == ["靶子乙", "靶子甲"]
    flat = json.dumps(rows, ensure_ascii=False, default=str)
    assert cast.ids["person_a1"] not in flat and cast.phones["person_a1"] not in flat
    assert cast.persons["person_a1"].id_masked in flat
    ev = AuditEvent.objects.get(action="person.export")
    assert ev.detail["rows"] == 2 and ev.detail["unmasked"] is False and ev.user == cast.committee_a


def test_csv_export_with_filters(cast, login):
    rows = csv_rows(login(cast.commander).post("/residents/export/", {"format": "csv", "tag": "elderly_alone"}))
    assert [r[0] for r in rows[1:]] == ["靶子甲"]
    rows = csv_rows(login(cast.commander).post("/residents/export/", {"format": "csv"}))
    assert len(rows) == 4  # header + the whole street


def test_unmasked_export_needs_unmask_permission(cast, login):
    rows = xlsx_rows(login(cast.committee_a).post("/residents/export/", {"format": "xlsx", "unmasked": "1"}))
    assert cast.ids["person_a1"] in {r[1] for r in rows}
    assert AuditEvent.objects.get(action="person.export").detail["unmasked"] is True
    assert login(cast.commander).post("/residents/export/", {"unmasked": "1"}).status_code == 403
    assert login(cast.worker_a1).post("/residents/export/").status_code == 403


def test_bad_format_is_400(cast, login):
    assert login(cast.committee_a).post("/residents/export/", {"format": "pdf"}).status_code == 400


def test_formula_injection_is_defused(cast, login):
    for i, addr in enumerate(["=HYPERLINK(\"http://x\",\"a\")", "+1+2", "-3", "@SUM(A1)", "＝全角"]):
        hh = create_household(acting_user=None, place=cast.grid_a2, address=addr)
        clean, errors = validate_person({"name": f"公式{'甲乙丙丁戊'[i]}", "id_number": make_id(950 + i), "note": "=1+1"})
        assert not errors
        create_person(acting_user=None, clean=clean, household=hh)
    for fmt, reader in (("xlsx", xlsx_rows), ("csv", csv_rows)):
        rows = reader(login(cast.committee_a).post("/residents/export/", {"format": fmt}))
        cells = [str(c) for r in rows for c in r if c is not None]
        assert not any(c.startswith(("=", "+", "-", "@", "＝")) for c in cells), fmt
        assert "'=HYPERLINK(\"http://x\",\"a\")" in cells
