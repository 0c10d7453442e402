"""Makes the LibreOffice workbooks of this corpus (see README.md): each sheet is written as
a flat OpenDocument spreadsheet (.fods, typed cells: strings, numbers, dates, a merged
title, a formatted but empty last row) and converted by LibreOffice itself:

    soffice --headless --convert-to 'xlsx:Calc MS Excel 2007 XML' x.fods
    soffice --headless --convert-to 'xlsx:Calc Office Open XML' x.fods
    soffice --headless --convert-to 'csv:Text - txt - csv (StarCalc):44,34,76' x.fods   (UTF-8)
    soffice --headless --convert-to 'csv:Text - txt - csv (StarCalc):44,34,85' x.fods   (GBK: 喆 is 86 B4)

Run from the repository root: .venv/bin/python tests/data/workbooks/make_libreoffice.py
(needs soffice; the results are committed, so the tests and CI do not)."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

from stdnum.cn import ric

HERE = Path(__file__).resolve().parent


def make_id(seq: int, born: str) -> str:  # as tests.cast.make_id
    body = f"370102{born}{seq % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def make_phone(seq: int) -> str:  # as tests.cast.make_phone
    return f"139{seq:08d}"

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
<office:automatic-styles>
 <number:date-style style:name="Niso"><number:year number:style="long"/><number:text>-</number:text><number:month number:style="long"/><number:text>-</number:text><number:day number:style="long"/></number:date-style>
 <number:date-style style:name="Ncn"><number:year number:style="long"/><number:text>年</number:text><number:month/><number:text>月</number:text><number:day/><number:text>日</number:text></number:date-style>
 <style:style style:name="iso" style:family="table-cell" style:data-style-name="Niso"/>
 <style:style style:name="cn" style:family="table-cell" style:data-style-name="Ncn"/>
 <style:style style:name="box" style:family="table-cell"><style:table-cell-properties fo:border="0.5pt solid #000000"/></style:style>
 <style:style style:name="title" style:family="table-cell"><style:text-properties fo:font-weight="bold"/></style:style>
</office:automatic-styles>
<office:body><office:spreadsheet><table:table table:name="{sheet}">
"""
TAIL = "</table:table></office:spreadsheet></office:body></office:document>\n"


def s(text):  # a string cell (an ID typed as text, as a careful office formats the column)
    return f'<table:table-cell office:value-type="string"><text:p>{escape(text)}</text:p></table:table-cell>'


def n(value):  # a number cell (a phone or an ID typed as a number)
    return f'<table:table-cell office:value-type="float" office:value="{value}"><text:p>{value}</text:p></table:table-cell>'


def d(iso, style="iso"):  # a date cell with a date format
    return f'<table:table-cell table:style-name="{style}" office:value-type="date" office:date-value="{iso}"><text:p>{iso}</text:p></table:table-cell>'


EMPTY = '<table:table-cell table:style-name="box"/>'


def row(*cells):
    return "<table:table-row>" + "".join(cells) + "</table:table-row>\n"


def title(text, span):
    return row(f'<table:table-cell table:style-name="title" table:number-columns-spanned="{span}" office:value-type="string">'
               f"<text:p>{escape(text)}</text:p></table:table-cell>"
               f'<table:covered-table-cell table:number-columns-repeated="{span - 1}"/>')


HEADERS = ["姓名", "身份证号", "联系电话", "出生日期", "住址", "网格", "人员类别"]
ADDRESS = "甲一小区2号楼201室"


def residents_rows():
    """Rows 2-6 under the header: four good rows (IDs as text, phones as numbers, birth
    dates as dates in two formats, one address shared by two), one ID typed as a number."""
    return [
        row(s("王芳"), s(make_id(701, born="19800101")), n(make_phone(701)), d("1980-01-01"), s(ADDRESS), s("A1"), s("独居老人")),
        row(s("李强"), s(make_id(702, born="19750315")), n(make_phone(702)), d("1975-03-15", "cn"), s(ADDRESS), s("A1"), s("")),
        row(s("赵敏"), s(make_id(703, born="19920708")), n(make_phone(703)), d("1992-07-08"), s("甲二网格9号"), s("A2"), s("")),
        row(s("钱多多"), n(make_id(704, born="19800101")[:17] + "1"), n(make_phone(704)), d("1980-01-01"), s(ADDRESS), s("A1"), s("")),
        row(s("欧阳喆"), s(make_id(705, born="20010203")), s(""), d("2001-02-03", "cn"), s("甲一小区3号楼301室"), s("A1"), s("")),
    ]


def fods_residents() -> str:
    """Headers in row 1 (as the importer expects), then residents, then an empty row that is
    only formatted (a bordered table drawn one row too far)."""
    return (HEAD.format(sheet="居民") + row(*(s(h) for h in HEADERS)) + "".join(residents_rows())
            + row(*([EMPTY] * len(HEADERS))) + TAIL)


def fods_titled() -> str:
    """A merged title over the header row, as offices print their registers."""
    return (HEAD.format(sheet="登记表") + title("光明社区居民信息登记表", len(HEADERS)) + row(*(s(h) for h in HEADERS))
            + "".join(residents_rows()) + TAIL)


def convert(fods: Path, target: str, out_dir: Path) -> Path:
    subprocess.run(["soffice", "--headless", "--convert-to", target, "--outdir", str(out_dir), str(fods)],
                   check=True, capture_output=True, timeout=120)
    ext = target.split(":", 1)[0]
    return out_dir / f"{fods.stem}.{ext}"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for stem, text in [("residents", fods_residents()), ("titled", fods_titled())]:
            fods = tmp / f"{stem}.fods"
            fods.write_text(text, encoding="utf-8")
            for suffix, target in [("lo-excel2007", "xlsx:Calc MS Excel 2007 XML"), ("lo-ooxml", "xlsx:Calc Office Open XML")]:
                shutil.move(convert(fods, target, tmp / suffix), HERE / f"{stem}-{suffix}.xlsx")
            if stem == "residents":
                shutil.move(convert(fods, "csv:Text - txt - csv (StarCalc):44,34,76", tmp / "csv"), HERE / f"{stem}-lo-utf8.csv")
                shutil.move(convert(fods, "csv:Text - txt - csv (StarCalc):44,34,85", tmp / "gbk"), HERE / f"{stem}-lo-gbk.csv")
    print("written:", *sorted(p.name for p in HERE.iterdir() if p.suffix in (".xlsx", ".csv")))


if __name__ == "__main__":
    main()
