"""A community office's first day with the resident import (issue 14): formula cells,
lists with headers and no rows, over-long cells, and hostile workbooks (decompression
bombs, gigantic shared strings) refused in bounded time and memory, in the worker and
not in the upload's request."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from django.test import TestCase

from fangkong.lib.sheets import SheetError, Table, XlsxSheet
from fangkong.residents.models import ImportJob, Person
from tests.cast import make_id, make_phone
from tests.test_import import committee, csv_bytes, errors_of, upload, xlsx_bytes  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def zh(message: str, **values) -> str:
    """A message as the importer writes it for a Chinese-speaking user."""
    from django.utils import translation

    with translation.override("zh-hans"):
        return translation.gettext(message) % values if values else translation.gettext(message)


FORMULA = "The cell holds a formula whose value the file does not store; open the file in Excel or WPS, save it and upload it again"
NO_ROWS = "The file has column headers but no data rows"


def _c(ref: str, value) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def raw_xlsx(path: Path, rows_xml, shared=None) -> Path:
    """A workbook written part by part: `rows_xml` is the sheetData's content (a str, or
    an iterable of byte chunks for large sheets), `shared` the shared strings (a list, or
    an iterable of byte chunks of <si> items)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        zf.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns:r="http://schemas.openxmlformats.org/'
                    'officeDocument/2006/relationships"><sheets><sheet name="s" sheetId="1" r:id="rId1"/></sheets></workbook>')
        zf.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships><Relationship Id="rId1" '
                    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
                    'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/'
                    'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0"?><worksheet><sheetData>')
            for chunk in [rows_xml] if isinstance(rows_xml, str) else rows_xml:
                fh.write(chunk.encode() if isinstance(chunk, str) else chunk)
            fh.write(b"</sheetData></worksheet>")
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
            fh.write(b"<sst>")
            if isinstance(shared, list):
                fh.write("".join(f"<si><t>{escape(t)}</t></si>" for t in shared).encode())
            else:
                for chunk in shared or []:
                    fh.write(chunk)
            fh.write(b"</sst>")
    return path


def _head_row(shared=False) -> str:
    if shared:  # the headers as shared strings 0 and 1, as Excel writes them
        return '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
    return '<row r="1">' + _c("A1", "姓名") + _c("B1", "身份证号") + "</row>"


def _start(client, job):
    with TestCase.captureOnCommitCallbacks(execute=True):
        resp = client.post(f"/residents/import/{job.pk}/start/", {f"col_{k}": v for k, v in job.mapping.items()})
    assert resp.status_code == 302, resp.content.decode()[:500]
    job.refresh_from_db()
    return job


# --- 14. Formula cells ----------------------------------------------------------------

def test_formula_cells_take_their_stored_value_and_a_formula_without_one_is_an_error_of_its_row(
        cast, committee, tmp_path):
    rows = (
        _head_row() + '<row r="2"><c r="A2" t="str"><f>"王"&amp;"五"</f><v>王五</v></c>' + _c("B2", make_id(701)) + "</row>"
        '<row r="3"><c r="A3"><f>A2</f></c>' + _c("B3", make_id(702)) + "</row>"
        '<row r="4"><c r="A4" t="str"><f>A2</f></c>' + _c("B4", make_id(703)) + "</row>"
    )
    path = raw_xlsx(tmp_path / "公式.xlsx", rows)
    resp = upload(committee, cast, path.read_bytes(), "公式.xlsx")
    assert resp.status_code == 302
    job = _start(committee, ImportJob.objects.latest("pk"))
    assert job.status == "done" and job.created_count == 1
    assert Person.objects.filter(name="王五").count() == 1
    assert errors_of(job) == [(3, "姓名", zh(FORMULA)), (4, "姓名", zh(FORMULA))]  # nothing stored empty, no second error


def test_the_reader_marks_a_formula_without_a_value_and_keeps_a_stored_one(tmp_path):
    path = raw_xlsx(tmp_path / "f.xlsx", '<row r="1"><c r="A1"><f>1+1</f><v>2</v></c><c r="B1"><f>1+1</f></c>'
                                         '<c r="C1" t="s"><f>X</f></c><c r="D1"><v>5</v></c></row>')
    (cells,) = list(Table(path, "xlsx").rows())
    assert cells == ["2", "", "", "5"]
    assert [type(c).__name__ for c in cells] == ["str", "Uncached", "Uncached", "str"]


# --- 15. No data rows; over-long cells ----------------------------------------------------

@pytest.mark.parametrize("name, data", [
    ("居民.csv", csv_bytes([])),
    ("居民.csv", csv_bytes([["", "", "", "", "", ""], []])),
    ("居民.xlsx", xlsx_bytes([])),
])
def test_a_list_with_headers_and_no_data_rows_says_so(cast, committee, name, data):
    n = ImportJob.objects.count()
    resp = upload(committee, cast, data, name)
    assert resp.status_code == 400
    assert zh(NO_ROWS) in resp.content.decode()
    assert ImportJob.objects.count() == n


def test_headers_and_no_data_rows_found_by_the_worker_fail_the_job_with_that_message(cast, committee, tmp_path):
    """Data rows beyond what the upload looks at, blank: the worker says so."""
    rows = _head_row() + "".join(f'<row r="{i}"><c r="A{i}" s="1"/></row>' for i in range(2, 200))
    rows += '<row r="300">' + _c("A300", " ") + "</row>"
    resp = upload(committee, cast, raw_xlsx(tmp_path / "空.xlsx", rows).read_bytes(), "空.xlsx")
    assert resp.status_code == 302
    job = _start(committee, ImportJob.objects.latest("pk"))
    assert (job.status, job.message) == ("failed", zh(NO_ROWS))


def test_a_row_with_one_over_long_cell_reports_that_cell_only(cast, committee):
    from tests.test_import import run

    job = run(committee, cast, csv_bytes([["张" * 1001, make_id(711), make_phone(711), "", "", ""],
                                          ["李四", "9" * 1001, "", "", "", ""]]))
    too_long = zh("Cell is longer than %(n)d characters", n=1000)
    assert errors_of(job) == [(2, "姓名", too_long), (3, "身份证号", too_long)]


# --- 16. Hostile workbooks -----------------------------------------------------------------

BOMB_MB = 200


def _bomb_rows():
    """A header, a good row, then BOMB_MB MB of one repeated row (inflates ~1000 times)."""
    yield _head_row() + '<row r="2">' + _c("A2", "张三") + _c("B2", make_id(720)) + "</row>"
    chunk = ('<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 20000).encode()
    for _ in range(BOMB_MB * (1 << 20) // len(chunk)):
        yield chunk


def _sst_bomb(n: int, distinct: bool):
    """Shared strings: the two headers, then `n` more texts."""
    yield "<si><t>姓名</t></si><si><t>身份证号</t></si>".encode()
    step = 100_000
    for base in range(0, n, step):
        yield "".join(f"<si><t>{base + i if distinct else 'x'}</t></si>" for i in range(min(step, n - base))).encode()


def test_a_decompression_bomb_is_refused_by_the_worker_after_inflating_little_and_not_in_the_upload(
        cast, committee, tmp_path):
    path = raw_xlsx(tmp_path / "bomb.xlsx", _bomb_rows())
    assert path.stat().st_size < 2 << 20
    before = XlsxSheet.inflated[0]
    resp = upload(committee, cast, path.read_bytes(), "bomb.xlsx")
    assert resp.status_code == 302  # the request looked at the headers only
    assert XlsxSheet.inflated[0] - before <= 2 * XlsxSheet.CHUNK
    job = ImportJob.objects.latest("pk")
    before = XlsxSheet.inflated[0]
    job = _start(committee, job)
    assert job.status == "failed"
    assert job.message == zh("The workbook is refused: %(why)s",
                             why=zh("a part of it inflates more than %(n)d times (a decompression bomb)", n=100))
    assert XlsxSheet.inflated[0] - before <= 2 * (XlsxSheet.RATIO_FLOOR + 2 * XlsxSheet.CHUNK)  # counted, then read
    assert not Person.objects.filter(name="张三").exists()


def test_gigantic_shared_strings_are_refused_by_the_worker_and_not_read_by_the_upload(
        cast, committee, tmp_path, monkeypatch):
    monkeypatch.setattr(XlsxSheet, "MAX_SHARED_STRINGS", 100_000)
    rows = _head_row(shared=True) + '<row r="2">' + _c("A2", "张三") + _c("B2", make_id(721)) + "</row>"
    path = raw_xlsx(tmp_path / "sst.xlsx", rows, shared=_sst_bomb(150_000, distinct=True))
    before = XlsxSheet.inflated[0]
    resp = upload(committee, cast, path.read_bytes(), "sst.xlsx")
    assert resp.status_code == 302
    assert XlsxSheet.inflated[0] - before <= 2 * XlsxSheet.CHUNK
    job = ImportJob.objects.latest("pk")
    assert job.headers == ["姓名", "身份证号"]
    job = _start(committee, job)
    assert (job.status, job.message) == ("failed", zh("The workbook is refused: %(why)s",
                                                      why=zh("more than %(n)d different texts", n=100_000)))


def test_reading_the_workbook_has_a_budget(tmp_path, monkeypatch):
    path = raw_xlsx(tmp_path / "slow.xlsx", _head_row(shared=True), shared=["姓名", "身份证号"])
    monkeypatch.setattr(XlsxSheet, "SETUP_SECONDS", -1.0)
    with pytest.raises(SheetError, match=zh("reading it takes too long")):
        list(Table(path, "xlsx").rows())


MEASURE = """
import json, os, resource, sys
import django
django.setup()
from fangkong.lib.sheets import SheetError, Table, XlsxSheet
try:
    Table(sys.argv[1], "xlsx").count_rows()
    for _row in Table(sys.argv[1], "xlsx").rows():
        pass
    error = ""
except SheetError as exc:
    error = str(exc)
# The peak of this process's memory since exec (VmHWM): ru_maxrss would carry the peak
# of the forking test process over exec on Linux.
try:
    peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"error": error, "inflated": XlsxSheet.inflated[0], "peak_mb": peak_kb / 1024}))
"""


@pytest.mark.parametrize("kind", ["sheet bomb", "shared strings bomb", "one gigantic cell"])
def test_hostile_workbooks_are_refused_in_bounded_memory(tmp_path, kind):
    if kind == "sheet bomb":
        path = raw_xlsx(tmp_path / "h.xlsx", _bomb_rows())
        expected = zh("a part of it inflates more than %(n)d times (a decompression bomb)", n=100)
    elif kind == "shared strings bomb":
        path = raw_xlsx(tmp_path / "h.xlsx", _head_row(shared=True), shared=_sst_bomb(12_000_000, distinct=False))
        expected = zh("a part of it inflates more than %(n)d times (a decompression bomb)", n=100)
    else:  # one element larger than any row: its buffer would grow without end
        noise = os.urandom(1 << 20).hex().encode()  # 2 MB that do not compress (repeated beyond deflate's window)
        path = raw_xlsx(tmp_path / "h.xlsx", [b'<row r="1"><c r="A1" t="inlineStr"><is><t>'] + [noise] * 35
                        + [b"</t></is></c></row>"])
        expected = zh("one row or text in it is larger than %(n)d MB", n=64)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="fangkong.settings", FANGKONG_ENV="test", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert expected in got["error"], got
    assert got["peak_mb"] < 512, got
    assert got["inflated"] < 2 * (XlsxSheet.MAX_ELEMENT_BYTES + XlsxSheet.RATIO_FLOOR + 4 * XlsxSheet.CHUNK), got
