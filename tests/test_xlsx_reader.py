"""The importer's streamed XLSX reader against python-calamine, cell for cell.

The reader exists because python-calamine loads a whole sheet into memory (W2 in bench/).
It must yield, for every row, the same texts the importer made of calamine's values
(fangkong.lib.sheets.cell_text), so random workbooks written by openpyxl are read both ways and
compared. Known, documented differences are normalised: a row ends at its last cell
(calamine pads to the widest row), and column A is never empty in every row here
(calamine drops such leading columns).
"""
from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from python_calamine import CalamineWorkbook

from fangkong.lib.sheets import SheetError, Table, XlsxSheet, cell_text

chars = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(list("&<>\"' \t\n_x0D"))
text = st.lists(st.text(alphabet=chars, max_size=8) | st.sampled_from(["张三", "光明社区", "_x0041_", "_x000D_"]),
                max_size=4).map("".join)
cell = st.one_of(
    st.none(),
    text,
    st.integers(min_value=-10**15, max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)).map(lambda d: d.replace(microsecond=0)),
    st.sampled_from(["=1+1", "=A1", "370102198001010011", "0012", " padded "]),
)
rows = st.lists(st.lists(cell, max_size=8), max_size=25)


def _calamine(path: Path) -> list[list[str]]:
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    return [[cell_text(v) for v in row] for row in sheet.iter_rows()]


def _trim(table: list[list[str]]) -> list[list[str]]:
    out = []
    for row in table:
        row = list(row)
        while row and row[-1] == "":
            row.pop()
        out.append(row)
    while out and not out[-1]:
        out.pop()
    return out


def _write(path: Path, data: list[list], write_only: bool, excel_style: bool = False) -> None:
    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet() if write_only else wb.active
    ws.append(["标题"])  # column A always holds something
    for r in data:
        ws.append(r)
    wb.save(path)
    if excel_style:
        _as_excel_writes_it(path)


_INLINE = re.compile(rb'<c r="([A-Z]+\d+)" t="inlineStr"><is>(<t(?: xml:space="preserve")?>.*?</t>|<t\s*/>)</is></c>', re.S)


def _as_excel_writes_it(path: Path) -> None:
    """Rewrite openpyxl's sheet the way Excel and WPS write one: strings in a shared strings
    part (openpyxl writes inline strings) and no t="n" (the default type). This is the
    reader's fast path."""
    with zipfile.ZipFile(path) as zin:
        parts = {i.filename: zin.read(i.filename) for i in zin.infolist()}
    table: dict[bytes, int] = {}

    def shared(m):
        i = table.setdefault(m[2], len(table))
        return b'<c r="%s" t="s"><v>%d</v></c>' % (m[1], i)

    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = _INLINE.sub(shared, parts[sheet]).replace(b' t="n"', b"")
    sis = b"".join(b"<si>" + t + b"</si>" for t in table)
    parts["xl/sharedStrings.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main" count="%d" uniqueCount="%d">%s</sst>' % (len(table), len(table), sis))
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, raw in parts.items():
            zout.writestr(name, raw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=rows, write_only=st.booleans(), excel_style=st.booleans())
def test_reader_matches_calamine(tmp_path_factory, data, write_only, excel_style):
    path = tmp_path_factory.mktemp("x") / "t.xlsx"
    _write(path, data, write_only, excel_style)
    ours = _trim(list(Table(path, "xlsx").rows()))
    assert ours == _trim(_calamine(path))


def test_reader_streams_in_pieces(tmp_path, monkeypatch):
    """Rows that straddle the reader's inflate and parse pieces come out whole."""
    monkeypatch.setattr(XlsxSheet, "CHUNK", 97)
    monkeypatch.setattr(XlsxSheet, "PIECE", 31)
    data = [[f"姓名{i}", f"37010219800101{i:04d}", i, 1.5 * i, dt.date(2020, 1, 1 + i % 28)] for i in range(400)]
    path = tmp_path / "big.xlsx"
    _write(path, data, write_only=True, excel_style=True)
    ours = list(Table(path, "xlsx").rows())
    assert _trim(ours) == _trim(_calamine(path))
    assert Table(path, "xlsx").count_rows() == 401 - 1


def test_broken_workbook_is_a_file_error(tmp_path):
    path = tmp_path / "broken.xlsx"
    _write(path, [["a"]], False)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(SheetError):
        list(Table(path, "xlsx").rows())


def test_excel_style_rewrite_takes_the_fast_path(tmp_path):
    """The comparison above really covers the fast path: an Excel-style sheet is read by
    it (a test of the test)."""
    path = tmp_path / "e.xlsx"
    _write(path, [[12345, "甲", 1.5], ["乙", 7]], write_only=True, excel_style=True)
    with zipfile.ZipFile(path) as zf:
        sheet = XlsxSheet(zf)
        sheet._load_shared_strings()
        pieces = list(sheet._sheet_pieces())
        assert all(sheet._fast(p) is not None for p in pieces)
    assert _trim(list(Table(path, "xlsx").rows())) == [["标题"], ["12345", "甲", "1.5"], ["乙", "7"]]
