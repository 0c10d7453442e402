"""Spreadsheet exports that are safe to open in Excel / WPS.

`safe_cell` defuses formula injection: a text cell starting with = + - @, a tab or a
carriage return is prefixed with an apostrophe so the spreadsheet shows it as text.
"""
from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable

from django.http import FileResponse, StreamingHttpResponse

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


class _Echo:
    def write(self, value):
        return value


def csv_response(rows: Iterable[list], filename: str) -> StreamingHttpResponse:
    """Streamed UTF-8 CSV with a BOM so that Excel opens Chinese text correctly."""
    writer = csv.writer(_Echo())

    def gen():
        yield "\ufeff"
        for row in rows:
            yield writer.writerow([safe_cell(v) for v in row])

    resp = StreamingHttpResponse(gen(), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(filename)}"
    resp["Cache-Control"] = "no-store"
    return resp


def xlsx_response(rows: Iterable[list], filename: str, sheet_title: str = "Sheet1") -> FileResponse:
    """XLSX written in openpyxl's write-only mode (constant memory) to a temporary file."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet_title[:31])
    first = True
    for row in rows:
        if first:
            cells = []
            for v in row:
                c = WriteOnlyCell(ws, value=safe_cell(v))
                c.font = Font(bold=True)
                cells.append(c)
            ws.append(cells)
            first = False
        else:
            ws.append([safe_cell(v) for v in row])
    return workbook_response(wb, filename)


def workbook_response(wb, filename: str) -> FileResponse:
    """An openpyxl workbook as a download, saved to a temporary file (not to memory)."""
    tmp = tempfile.TemporaryFile(suffix=".xlsx")
    wb.save(tmp)
    tmp.seek(0)
    resp = FileResponse(tmp, as_attachment=True, filename=filename,
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Cache-Control"] = "no-store"
    return resp


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)
