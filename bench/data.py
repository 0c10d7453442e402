"""Synthetic census files for W1/W2: N person rows with Chinese headers, as CSV (UTF-8
with BOM, as Excel saves it) and XLSX (shared strings, like Excel; phone numbers stored as
numbers, as people type them). Deterministic for a given size and seed, cached under
bench/out/data/ so repeated runs do not pay for generation.

ID numbers are synthetic but checksum-valid (python-stdnum check digit over real region
codes), made the way fangkong.core.demo makes them; phone numbers are synthetic.
"""
from __future__ import annotations

import csv
import os
import random
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from stdnum.cn import ric

HEADERS = ["姓名", "身份证号", "联系电话", "住址", "性别", "网格", "人员类别"]
FORMAT_VERSION = 1  # bump when the generated content changes

# Same names, regions and grid codes as the demo street (fangkong.core.demo.build_tree).
from fangkong.core.demo import COMMUNITY_NAMES, GIVEN, REGIONS, SURNAMES  # noqa: E402

GRIDS = [
    (f"DEMO-C{c + 1:02d}-G{g + 1:02d}", f"{name}社区第{g + 1}网格")
    for c, name in enumerate(COMMUNITY_NAMES)
    for g in range(12 if c < 9 else 11)
]
TAG_WORDS = ["独居", "空巢老人", "租户", "流动人员", "外来人口", "低保", "租户,流动人员"]


def rows(size: int, seed: int = 20220401):
    """Yields `size` data rows: name, ID, phone, address, sex, grid code, tags."""
    rng = random.Random(seed)
    used: set[str] = set()
    counters = [0] * len(GRIDS)
    made = 0
    while made < size:
        g = rng.randrange(len(GRIDS))
        counters[g] += 1
        code, label = GRIDS[g]
        address = f"{label}{counters[g]}号"
        family = rng.choice((1, 2, 2, 3, 3, 3, 4, 5))
        tenant = rng.random() < 0.15
        for _ in range(min(family, size - made)):
            while True:
                region = rng.choice(REGIONS)
                year = rng.randint(1940, 2020)
                body = f"{region}{year:04d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
                number = body + ric.calc_check_digit(body + "0")
                if number not in used:
                    used.add(number)
                    break
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
            phone = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}" if rng.random() < 0.9 else ""
            sex = "男" if int(number[16]) % 2 else "女"
            if tenant:
                tags = rng.choice(("租户", "租户,流动人员"))
            elif rng.random() < 0.06:
                tags = rng.choice(TAG_WORDS)
            else:
                tags = ""
            yield [name, number, phone, address, sex, code, tags]
            made += 1


def write_csv(path: Path, size: int) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        w.writerows(rows(size))
    os.replace(tmp, path)


def _col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


_STATIC = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        '</Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        '</Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="居民" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        '</Relationships>'
    ),
    "xl/styles.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<fonts count="1"><font><sz val="11"/><name val="等线"/></font></fonts>'
        '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        '<borders count="1"><border/></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
        '</styleSheet>'
    ),
}


def write_xlsx(path: Path, size: int) -> None:
    """A minimal but ordinary workbook: one sheet, shared strings table, dimension."""
    sst: dict[str, int] = {}
    refs = 0
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, text in _STATIC.items():
            zf.writestr(name, text)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as raw:
            buf = []

            def flush():
                raw.write("".join(buf).encode())
                buf.clear()

            buf.append(
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                f'<dimension ref="A1:{_col(len(HEADERS) - 1)}{size + 1}"/>'
                '<sheetViews><sheetView workbookViewId="0"/></sheetViews>'
                '<sheetFormatPr defaultRowHeight="14.25"/><sheetData>'
            )
            cols = [_col(i) for i in range(len(HEADERS))]

            def put(rownum, values):
                nonlocal refs
                cells = []
                for col, v in zip(cols, values):
                    if v == "":
                        continue
                    if isinstance(v, int):
                        cells.append(f'<c r="{col}{rownum}"><v>{v}</v></c>')
                    else:
                        idx = sst.get(v)
                        if idx is None:
                            idx = sst[v] = len(sst)
                        refs += 1
                        style = ' s="1"' if col == "B" else ""
                        cells.append(f'<c r="{col}{rownum}"{style} t="s"><v>{idx}</v></c>')
                buf.append(f'<row r="{rownum}" spans="1:{len(cols)}">{"".join(cells)}</row>')

            put(1, HEADERS)
            for i, row in enumerate(rows(size), start=2):
                if row[2]:
                    row[2] = int(row[2])  # phone typed into Excel: a number
                put(i, row)
                if len(buf) >= 5000:
                    flush()
            buf.append("</sheetData></worksheet>")
            flush()
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as raw:
            raw.write(
                ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                 '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                 f'count="{refs}" uniqueCount="{len(sst)}">').encode()
            )
            chunk = []
            for s in sst:  # dicts keep insertion order = index order
                chunk.append(f"<si><t>{escape(s)}</t></si>")
                if len(chunk) >= 10000:
                    raw.write("".join(chunk).encode())
                    chunk.clear()
            chunk.append("</sst>")
            raw.write("".join(chunk).encode())
    os.replace(tmp, path)


def ensure(size: int, out_dir: Path) -> tuple[Path, Path]:
    """Paths of the CSV and XLSX files for `size` rows, generating them if needed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"census-v{FORMAT_VERSION}-{size}.csv"
    xlsx_path = out_dir / f"census-v{FORMAT_VERSION}-{size}.xlsx"
    if not csv_path.exists():
        write_csv(csv_path, size)
    if not xlsx_path.exists():
        write_xlsx(xlsx_path, size)
    return csv_path, xlsx_path
