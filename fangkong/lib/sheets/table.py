"""A tabular file, CSV or XLSX, as rows of cell texts: format and encoding detection and
the CSV side (the XLSX side is .xlsx)."""
from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from itertools import count, islice
from pathlib import Path

from django.utils.translation import gettext as _

from .values import SheetError
from .xlsx import XlsxSheet


def detect_format(path: Path, file_name: str) -> str:
    """"xlsx" or "csv" from the file's first bytes and its name; SheetError for a ZIP that
    is not a workbook and for old .xls workbooks."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK\x03\x04"):
        if not file_name.lower().endswith((".xlsx", ".xlsm")):
            raise SheetError(_("The file is a ZIP archive but not an .xlsx workbook"))
        return "xlsx"
    if file_name.lower().endswith((".xls",)) or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise SheetError(_("Old .xls workbooks are not supported; save the file as .xlsx or CSV"))
    return "csv"


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes as UTF-8, else GB18030 (a
    superset of GBK, as Chinese Excel saves CSV). Streams the file in 1 MiB chunks."""
    dec = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        first = fh.read(3)
        bom = first == codecs.BOM_UTF8
        try:
            if not bom:
                dec.decode(first)
            while chunk := fh.read(1 << 20):
                dec.decode(chunk)
            dec.decode(b"", final=True)
            return "utf-8-sig" if bom else "utf-8"
        except UnicodeDecodeError:
            pass
    dec = codecs.getincrementaldecoder("gb18030")()
    with open(path, "rb") as fh:
        try:
            while chunk := fh.read(1 << 20):
                dec.decode(chunk)
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            raise SheetError(_("The file is neither UTF-8 nor GBK text")) from None
    return "gb18030"


class Table:
    """A readable tabular file: its headers (row `header_row`, 1 unless a title is above
    them), its number of data rows, and its rows as lists of cell texts. `fmt` is "csv" or
    "xlsx" (detect_format); a CSV file's encoding is detected when not given. Every read
    streams the file again."""

    def __init__(self, path: Path, fmt: str, encoding: str = "", header_row: int = 1):
        self.path, self.fmt, self.encoding, self.header_row = Path(path), fmt, encoding, header_row
        if fmt == "csv" and not encoding:
            self.encoding = detect_encoding(self.path)

    @classmethod
    def open(cls, path: Path, file_name: str = "", header_row: int = 1) -> Table:
        """The file at `path` (uploaded as `file_name`, whose extension counts), its
        format and encoding detected."""
        return cls(path, detect_format(Path(path), file_name or Path(path).name), header_row=header_row)

    def _rows(self, xlsx_method: str = "rows") -> Iterator[list]:
        if self.fmt == "csv":
            with open(self.path, encoding=self.encoding, newline="") as fh:
                try:
                    sample = fh.read(65536)
                    fh.seek(0)
                    try:
                        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
                    except csv.Error:
                        dialect = csv.excel
                    reader = csv.reader(fh, dialect)
                    yield from reader
                except csv.Error as exc:
                    raise SheetError(_("The CSV file is malformed: %(e)s") % {"e": exc}) from None
        else:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    yield from getattr(XlsxSheet(zf), xlsx_method)()
            except SheetError:
                raise
            except Exception as exc:  # a broken ZIP or XML part
                raise SheetError(_("The workbook cannot be read: %(e)s") % {"e": str(exc)[:200]}) from None

    def head(self, max_rows: int) -> tuple[list[list[str]], bool]:
        """(rows, more): the first `max_rows` rows (as rows() gives them) and whether the
        file goes on below them. Cheap for any file: an XLSX workbook is read only as far as
        these rows need (see XlsxSheet.head); an upload looks at its headers this way."""
        if self.fmt == "csv":
            rows = list(islice(self._rows(), max_rows + 1))
            return rows[:max_rows], len(rows) > max_rows
        try:
            with zipfile.ZipFile(self.path) as zf:
                return XlsxSheet(zf).head(max_rows)
        except SheetError:
            raise
        except Exception as exc:  # a broken ZIP or XML part
            raise SheetError(_("The workbook cannot be read: %(e)s") % {"e": str(exc)[:200]}) from None

    def sniff(self, max_rows: int = 50) -> list[str]:
        """The header row's cells, as headers(), from a cheap look at the file (head()); a
        SheetError also when the file has headers and no data row."""
        rows, more = self.head(max(max_rows, self.header_row + 1))
        if len(rows) < self.header_row or not any(str(c).strip() for c in rows[self.header_row - 1]):
            if rows[self.header_row - 1:] or more:
                raise SheetError(_("The first row must hold the column headers"))
            raise SheetError(_("The file is empty"))
        if not more and not any("".join(map(str, r)).strip() for r in rows[self.header_row:]):
            raise SheetError(_("The file has column headers but no data rows"))
        return [str(c).strip()[:100] for c in rows[self.header_row - 1]]

    def rows(self) -> Iterator[list[str]]:
        """Every row from row 1, the header included (an empty row in between as [])."""
        return self._rows()

    def headers(self) -> list[str]:
        """The header row's cells (stripped, at most 100 characters each)."""
        for row in islice(self._rows(), self.header_row - 1, None):
            if any(str(c).strip() for c in row):
                return [str(c).strip()[:100] for c in row]
            raise SheetError(_("The first row must hold the column headers"))
        raise SheetError(_("The file is empty"))

    def count_rows(self) -> int:
        if self.fmt != "csv":
            # The row count comes from the row numbers: no shared strings, no cell values.
            return max(next(self._rows("row_count")) - self.header_row, 0)
        n = 0
        for n, _row in enumerate(self._rows(), 1):
            pass
        return max(n - self.header_row, 0)

    def data_rows(self, skip: int = 0) -> Iterator[tuple[int, list[str]]]:
        """(spreadsheet row number, cells) of the data rows below the header, after the
        first `skip` of them (a resumed read)."""
        start = self.header_row + skip
        yield from zip(count(start + 1), islice(self._rows(), start, None))
