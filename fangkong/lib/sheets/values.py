"""What every reader of fangkong.lib.sheets shares: the file-level error and the text a
spreadsheet value becomes."""
from __future__ import annotations

import datetime as dt


class SheetError(Exception):
    """The file as a whole cannot be read (empty, unreadable, not a supported format).
    Its message is for the user, in their language."""


class Uncached(str):
    """The text of a formula cell whose file stores no computed value (a workbook written
    by a program that does not calculate, e.g. openpyxl): reads as "", and a RowReader
    reports it on its row instead of taking the empty text as the cell's value."""

    __slots__ = ()


UNCACHED = Uncached("")


def cell_text(v) -> str:
    """The text of a cell value as python-calamine gives it (str, int, float, bool, date,
    datetime, time, timedelta or None); the XLSX reader yields exactly these texts."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else ""
    if isinstance(v, float):
        # Integers beyond 15 digits cannot be exact in a float (an ID typed as a number):
        # keep the exponent form so the row is reported instead of silently changed.
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)
