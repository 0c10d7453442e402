"""Lists from spreadsheets: CSV (UTF-8 or GBK/GB18030) and XLSX, streamed row by row in
constant memory, with Chinese headers recognised. No models: a module that imports a list
(residents, staff, tubes, supplies) brings its fields and its checks.

    from fangkong.lib import sheets

    COLUMNS = sheets.Columns(
        labels={"name": _("Name"), "phone": _("Phone")},
        aliases={"name": ["姓名", "name"], "phone": ["联系电话", "手机号", "phone"]},
        required=["name"],
    )
    table = sheets.Table.open(path, file_name)        # SheetError: not CSV/XLSX, unreadable
    table.header_row = COLUMNS.find_header_row(table) or 1   # a title row may stand above the headers
    headers = table.headers()
    mapping = COLUMNS.auto_mapping(headers)           # {"0": "name", "3": "phone"}
    problems = COLUMNS.check_mapping(mapping, headers)  # [] or messages for the user
    for rec in sheets.records(table, COLUMNS.reader(mapping, headers)):
        rec.number, rec.values["name"], rec.errors    # row number as the spreadsheet shows it

Every cell is text: numbers as the spreadsheet shows them (integers without ".0", a long
number typed as a number keeps its exponent form, e.g. "3.70102198001017e+17", so the
caller can refuse it), dates as ISO dates, booleans "1"/"". Reading again starts over
(`records(..., skip=n)` resumes after n data rows). SheetError (a file-level problem)
may also be raised while rows are streamed, from a broken part of the file.
"""
from .columns import Columns, Record, RowReader, norm_header, records
from .table import Table, detect_encoding, detect_format
from .values import SheetError, cell_text
from .xlsx import XlsxSheet

__all__ = [
    "Columns", "Record", "RowReader", "SheetError", "Table", "XlsxSheet",
    "cell_text", "detect_encoding", "detect_format", "norm_header", "records",
]
