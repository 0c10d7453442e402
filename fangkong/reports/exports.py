"""The daily report as a spreadsheet laid out like the paper form (seed 000):

    row 1  XX街道疫情防控工作日报表 2020年3月18日                  (merged over the table)
    row 2  单位 | <section> (merged over its metrics) | ...
    row 3       | <metric label> | <metric label> | ...
    rows   one per child place
    last   合计: the totals as values (what the page shows; a reader without a spreadsheet
           program that evaluates formulas sees them too); a second sheet (公式核对) repeats
           them as =SUM(...) formulas over the rows, for whoever checks the sums in Excel.

Then the organizations' table (per unit figures and entered figures) below, laid out the
same way. CSV: the same rows without merging, UTF-8 with a BOM (lib.exports).
"""
from __future__ import annotations


from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.lib.exports import csv_response, safe_cell, workbook_response


def title(rep) -> str:
    d = rep["day"]
    return _("%(place)s epidemic prevention daily report %(y)d-%(m)02d-%(d)02d") % {
        "place": rep["place"].name, "y": d.year, "m": d.month, "d": d.day}


def _org_header(rep) -> list:
    return [_("Station / unit")] + [c["label"] for c in rep["org_columns"]] + [
        f"{d.label}（{d.unit}）" if d.unit else d.label for d in rep["definitions"]] + [_("State")]


def _org_rows(rep):
    for r in rep["org_rows"]:
        yield [r["org"].name, *r["by_org"], *[c["value"] if c["applies"] else "" for c in r["figures"]],
               r["state_label"] or ("" if not r["reports"] else _("missing"))]


def _corrections_header() -> list:
    return [_("Station / unit / place"), _("Figure"), _("Kept"), _("Now"), _("By"), _("At"), _("Reason")]


def correction_rows(rep) -> list[list]:
    """What changed after the day was closed, as the page shows it beside the kept figures:
    the coordinators' corrections of entered figures (unit, figure, kept → new, who, when,
    why) and the derived figures whose data changed since closing (place, figure, kept → now)."""
    out = []
    for r in rep["org_rows"]:
        for d, cell in zip(rep["definitions"], r["figures"]):
            for k in cell.get("corrections", []):
                out.append([r["org"].name, d.label, "" if k.old is None else k.old, k.new,
                            k.corrected_by.get_username() if k.corrected_by else "",
                            timezone.localtime(k.corrected_at).strftime("%Y-%m-%d %H:%M"), k.reason])
    labels = {c["key"]: c["label"] for c in rep["columns"]}
    for r in rep["rows"]:
        for key, now in (r.get("changed") or {}).items():
            out.append([r["name"], labels.get(key, key), r["figures"][key], now, "", "", _("Data changed after closing")])
    return out


def rows(rep):
    """Plain rows (CSV): title, section header, metric header, place rows, totals, then the
    units, then what changed after closing."""
    cols = rep["columns"]
    yield [title(rep)]
    head = [_("Place")]
    for c in cols:
        head.append(c["section"])
    yield head
    yield [""] + [c["label"] for c in cols]
    for r in rep["rows"]:
        yield [r["name"]] + [r["figures"][c["key"]] for c in cols]
    yield [_("Total")] + [rep["totals"][c["key"]] for c in cols]
    if rep["org_rows"]:
        yield []
        yield _org_header(rep)
        yield from _org_rows(rep)
        yield [_("Total")] + rep["org_totals_by"] + rep["org_totals_fig"] + [""]
    changes = correction_rows(rep)
    if changes:
        yield []
        yield [_("Corrections after closing")]
        yield _corrections_header()
        yield from changes


def csv_export(rep, filename: str):
    return csv_response(rows(rep), filename)


def xlsx_export(rep, filename: str) -> FileResponse:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    cols = rep["columns"]
    wb = Workbook()
    ws = wb.active
    ws.title = _("Daily report")[:31]
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)
    bold = Font(bold=True)
    width = len(cols) + 1

    ws.cell(row=1, column=1, value=safe_cell(title(rep))).font = Font(bold=True, size=14)
    ws.cell(row=1, column=1).alignment = center
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    # Two header rows: "Place" merged down; each section merged over its metrics.
    ws.cell(row=2, column=1, value=_("Place"))
    ws.merge_cells(start_row=2, start_column=1, end_row=3, end_column=1)
    col = 2
    for label, n in rep["sections"]:
        ws.cell(row=2, column=col, value=safe_cell(label))
        if n > 1:
            ws.merge_cells(start_row=2, start_column=col, end_row=2, end_column=col + n - 1)
        col += n
    for i, c in enumerate(cols):
        ws.cell(row=3, column=2 + i, value=safe_cell(c["label"]))
    row = 4
    first = row
    for r in rep["rows"]:
        ws.cell(row=row, column=1, value=safe_cell(r["name"]))
        for i, c in enumerate(cols):
            ws.cell(row=row, column=2 + i, value=r["figures"][c["key"]])
        row += 1
    last = row - 1
    total_row = row
    ws.cell(row=row, column=1, value=_("Total")).font = bold
    for i, c in enumerate(cols):
        cell = ws.cell(row=row, column=2 + i, value=rep["totals"][c["key"]])
        cell.font = bold
    for rr in range(2, total_row + 1):
        for cc in range(1, width + 1):
            ws.cell(row=rr, column=cc).border = box
            if rr <= 3:
                ws.cell(row=rr, column=cc).alignment = center
                ws.cell(row=rr, column=cc).font = bold
    ws.column_dimensions["A"].width = 22
    for i in range(len(cols)):
        ws.column_dimensions[get_column_letter(2 + i)].width = 11
    ws.freeze_panes = "B4"

    # The units below, after one empty row.
    org_rows = list(_org_rows(rep))
    if org_rows:
        row = total_row + 2
        header = _org_header(rep)
        for i, v in enumerate(header):
            cell = ws.cell(row=row, column=1 + i, value=safe_cell(v))
            cell.font, cell.alignment, cell.border = bold, center, box
        for values in org_rows:
            row += 1
            for i, v in enumerate(values):
                ws.cell(row=row, column=1 + i, value=safe_cell(v)).border = box
        row += 1
        for i, v in enumerate([_("Total"), *rep["org_totals_by"], *rep["org_totals_fig"]]):
            cell = ws.cell(row=row, column=1 + i, value=safe_cell(v))
            cell.font, cell.border = bold, box

    # What changed after closing (the kept figures above stay as they were).
    changes = correction_rows(rep)
    if changes:
        cs = wb.create_sheet(_("Corrections")[:31])
        for i, v in enumerate(_corrections_header()):
            cs.cell(row=1, column=1 + i, value=safe_cell(v)).font = bold
        for n, values in enumerate(changes, start=2):
            for i, v in enumerate(values):
                cs.cell(row=n, column=1 + i, value=safe_cell(v))
        cs.column_dimensions["A"].width = 22
        cs.column_dimensions["G"].width = 30

    # The same totals as formulas, for whoever checks the sums in Excel.
    fs = wb.create_sheet(_("Formulas")[:31])
    fs.cell(row=1, column=1, value=_("Total"))
    for i, c in enumerate(cols):
        letter = get_column_letter(2 + i)
        fs.cell(row=1, column=2 + i, value=safe_cell(c["label"]))
        fs.cell(row=2, column=2 + i, value=f"=SUM('{ws.title}'!{letter}{first}:{letter}{last})" if last >= first else 0)
    fs.cell(row=2, column=1, value=_("Total"))

    return workbook_response(wb, filename)
