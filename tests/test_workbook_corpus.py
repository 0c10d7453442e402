"""Workbooks written by real spreadsheet programs (tests/data/workbooks/README.md says which
program wrote each): streamed through fangkong.lib.sheets, cell for cell, and the
residents' ones imported through the pages."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.test import TestCase
from django.utils import translation

from fangkong.lib import sheets
from fangkong.lib.crypto import blind_index
from fangkong.residents.importing import fields
from fangkong.residents.models import ImportJob, ImportRowError, Person
from tests.test_xlsx_reader import _calamine, _trim

CORPUS = Path(__file__).resolve().parent / "data" / "workbooks"
WORKBOOKS = sorted(CORPUS.glob("*.xlsx"))

HEADER = ["姓名", "身份证号", "联系电话", "出生日期", "住址", "网格", "人员类别"]
RESIDENTS = [
    ["王芳", "370102198001017014", "13900000701", "1980-01-01", "甲一小区2号楼201室", "A1", "独居老人"],
    ["李强", "370102197503157020", "13900000702", "1975-03-15", "甲一小区2号楼201室", "A1", ""],  # date shown as 1975年3月15日
    ["赵敏", "370102199207087039", "13900000703", "1992-07-08", "甲二网格9号", "A2", ""],
    ["钱多多", "3.70102198001017e+17", "13900000704", "1980-01-01", "甲一小区2号楼201室", "A1", ""],  # ID typed as a number
    ["欧阳喆", "370102200102037057", "", "2001-02-03", "甲一小区3号楼301室", "A1", ""],
]

# What each workbook reads as: every row from row 1 (an empty row in between as []).
EXPECTED = {
    "residents-lo-excel2007.xlsx": [HEADER, *RESIDENTS],  # the formatted empty row 7 is not a row
    "residents-lo-ooxml.xlsx": [HEADER, *RESIDENTS],
    "titled-lo-excel2007.xlsx": [["光明社区居民信息登记表"], HEADER, *RESIDENTS],  # title merged over A1:G1
    "titled-lo-ooxml.xlsx": [["光明社区居民信息登记表"], HEADER, *RESIDENTS],
    "calamine-merge_cells.xlsx": [["Row Merge", "", "Not Merged"], ["Column Merge", "Chunk Merged"]],
    "calamine-errors.xlsx": [[""]] * 7,  # #DIV/0!, #N/A, ... read as empty
    "calamine-encoded_entities.xlsx": [["&"], [""]],  # "&#xA;" alone: whitespace, trimmed
    "calamine-has_x000D_.xlsx": [["ABC\r\nDEF"]],
    "calamine-issue_419.xlsx": [["Hello"]],  # the package stores "SharedStrings.xml", its rels say "sharedStrings.xml"
    "calamine-header-row.xlsx": [[], [], ["", "", "Note 1"], [], [], [], [], [],
                                 ["Columns", "Column A", "Column B", "Column C"], ["put data here", "1", "2", "3"]],
    "spout-sheet_with_dates_and_times.xlsx": [
        ["2016-01-13"] * 5,
        ["04:43:25"] * 4 + ["16:43:25"],
        ["1976-11-22T08:30:00", "1976-11-22T08:30", "1582-10-15", "08:30:00", "08:30:00"],  # ISO cells (t="d")
    ],
    # Written by WPS Office (Kingsoft): Chinese text, hyperlinks over several cells, a
    # comment, a merged cell; a sheet whose relationships carry extra parts; numbers kept
    # as text as WPS stored them.
    "easyexcel-wps-extra.xlsx": [["第一列", "第二列"], ["普通超链接"], ["多单元格超链接A", "多单元格超链接B"],
                                 ["多单元格超链接C", "多单元格超链接D"], ["批注"], ["合并单元格"]],
    "easyexcel-wps-extraRelationships.xlsx": [["1", "2"], ["2", "2"]],
    "easyexcel-wps-date1.xlsx": [["a", "b"], ["1.00", "1"]],
    "spout-sheet_with_different_numeric_value_dates_1904_calendar.xlsx": [
        ["2019-09-02", "2019-09-03", "2019-09-02T22:23:00"],
        ["1904-02-29T23:59:59", "1904-03-02", "1904-03-01T11:00:00"],
    ],
}


def test_every_workbook_has_its_expectation():
    assert {p.name for p in WORKBOOKS} == set(EXPECTED)


@pytest.mark.parametrize("path", WORKBOOKS, ids=lambda p: p.name)
def test_workbook_reads_as_expected_and_as_calamine_reads_it(path):
    table = sheets.Table.open(path)
    rows = list(table.rows())
    assert rows == EXPECTED[path.name]
    assert _trim(rows) == _trim(_calamine(path))
    assert table.count_rows() == len(rows) - 1
    assert [cells for _n, cells in table.data_rows()] == rows[1:]


def test_csv_written_by_libreoffice_utf8_and_gbk():
    for name, encoding in [("residents-lo-utf8.csv", "utf-8"), ("residents-lo-gbk.csv", "gb18030")]:
        table = sheets.Table.open(CORPUS / name)
        assert (table.fmt, table.encoding) == ("csv", encoding)
        rows = list(table.rows())
        # Calc writes a date as it shows it, and an ID typed as a number with its exponent.
        expected = [r[:] for r in RESIDENTS]
        expected[1][3], expected[4][3] = "1975年3月15日", "2001年2月3日"
        expected[3][1] = "3.70102198001017E+017"
        assert rows == [HEADER, *expected], name


COLUMNS = fields.COLUMNS


@pytest.mark.parametrize("name", ["titled-lo-excel2007.xlsx", "titled-lo-ooxml.xlsx"])
def test_a_title_above_the_headers_is_found_and_rows_stream_with_numbers_and_errors(name):
    """The lib's documented use: find the header row, map it, stream records."""
    table = sheets.Table.open(CORPUS / name, name)
    assert COLUMNS.find_header_row(table) == 2
    table.header_row = 2
    headers = table.headers()
    mapping = COLUMNS.auto_mapping(headers)
    assert mapping == {"0": "name", "1": "id_number", "2": "phone", "3": "birth_date", "4": "address", "5": "place", "6": "tags"}
    assert COLUMNS.check_mapping(mapping, headers) == []
    with translation.override("en"):
        records = list(sheets.records(table, COLUMNS.reader(mapping, headers, max_cell=5)))
    assert [r.number for r in records] == [3, 4, 5, 6, 7]
    assert records[0].values == {"name": "王芳", "id_number": "", "phone": "", "birth_date": "", "address": "",
                                 "place": "A1", "tags": "独居老人"}
    # Cells longer than max_cell are errors of their row, named by the column's header.
    assert records[0].errors == [
        (3, "身份证号", "Cell is longer than 5 characters"),
        (3, "联系电话", "Cell is longer than 5 characters"),
        (3, "出生日期", "Cell is longer than 5 characters"),
        (3, "住址", "Cell is longer than 5 characters"),
    ]
    assert table.count_rows() == 5
    full = list(sheets.records(table, COLUMNS.reader(mapping, headers)))
    assert [list(r.values.values()) for r in full] == RESIDENTS and not any(r.errors for r in full)
    assert [r.number for r in sheets.records(table, COLUMNS.reader(mapping, headers), skip=3)] == [6, 7]


def test_header_row_of_an_excel_workbook_with_notes_above_it():
    cols = sheets.Columns({"a": "A", "b": "B"}, {"a": ["Column A"], "b": ["Column B"]}, required=["a", "b"])
    table = sheets.Table.open(CORPUS / "calamine-header-row.xlsx")
    assert cols.find_header_row(table) == 9
    assert cols.find_header_row(table, within=8) is None


def test_no_header_row_when_required_fields_are_missing():
    table = sheets.Table.open(CORPUS / "calamine-merge_cells.xlsx")
    assert COLUMNS.find_header_row(table) is None


# --- Imported through the pages -------------------------------------------------------------

def _import(client, cast, path: Path):
    f = io.BytesIO(path.read_bytes())
    f.name = path.name
    resp = client.post("/residents/import/", {"file": f, "place": cast.comm_a.pk})
    assert resp.status_code == 302, resp.content.decode()[:1000]
    job = ImportJob.objects.latest("pk")
    with TestCase.captureOnCommitCallbacks(execute=True):
        resp = client.post(f"/residents/import/{job.pk}/start/", {f"col_{k}": v for k, v in job.mapping.items()})
    job.refresh_from_db()
    return resp, job


@pytest.mark.parametrize("name", ["residents-lo-excel2007.xlsx", "residents-lo-ooxml.xlsx",
                                  "residents-lo-utf8.csv", "residents-lo-gbk.csv"])
def test_libreoffice_residents_import(cast, login, name):
    client = login(cast.committee_a)
    resp, job = _import(client, cast, CORPUS / name)
    assert resp.status_code == 302
    assert (job.status, job.total_rows, job.created_count, job.error_count) == ("done", 5, 4, 1)
    assert [(e.row, e.column) for e in ImportRowError.objects.filter(job=job)] == [(5, "身份证号")]
    assert "存成了数值" in ImportRowError.objects.get(job=job).reason  # "stored as a number" (pages speak Chinese)
    li = Person.objects.get(id_bidx=blind_index("id", RESIDENTS[1][1]))
    assert (li.name, li.birth_date.isoformat(), li.place, li.phone()) == ("李强", "1975-03-15", cast.grid_a1, "13900000702")
    wang = Person.objects.get(name="王芳")
    assert wang.household == li.household and wang.tag_list == ["elderly_alone"]
    assert Person.objects.get(name="欧阳喆").phone_masked == ""
    assert not Person.objects.filter(name="钱多多").exists()


@pytest.mark.parametrize("name", ["titled-lo-excel2007.xlsx", "titled-lo-ooxml.xlsx"])
def test_titled_workbook_is_read_from_its_header_row(cast, login, name):
    """A bold title merged over the first row (as government templates have) stands above
    the headers: the resident importer finds the header row (issue 14, point 13) and the
    rows below it are imported."""
    client = login(cast.committee_a)
    resp, job = _import(client, cast, CORPUS / name)
    assert resp.status_code == 302 and job.status == "done", (job.status, job.message)
    assert job.header_row == 2 and job.headers[0] == "姓名"
    assert job.created_count >= 1 and Person.objects.filter(name="王芳").exists()
