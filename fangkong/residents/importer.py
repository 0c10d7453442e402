"""Resident import from CSV (UTF-8 or GBK/GB18030) and XLSX with Chinese headers.

Streaming: rows are read one at a time and written in batches; memory does not grow with
the file (an XLSX sheet is streamed out of the ZIP; only its shared strings table is held,
compactly). Each batch is one transaction that also advances the job's cursor
(`processed_rows`), so a crash loses nothing and a resumed job neither skips nor repeats a
row. Idempotent on the ID number: a row whose person already exists with the same data
changes nothing. Duplicates inside one file are found through ImportSeen (on disk, not in
memory).

Speed (DESIGN.md §5, W1/W2): new persons, households and ImportSeen rows are written with
one multi-row statement per table and batch (COPY on PostgreSQL) instead of through model
instances, validation results that depend only on the cell text (tags) are cached per job,
and blind indexes are computed once per row.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import gc
import math
import multiprocessing
import os
import pickle
import posixpath
import queue
import re
import sqlite3
import threading
import unicodedata
import zipfile
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import accumulate, chain, count, islice
from operator import itemgetter
from pathlib import Path

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import crypto
from fangkong.lib.identity import IdentityError, mask_id, mask_phone
from fangkong.places.models import Organization, Place

from .actions import phone_fields
from .models import Household, ImportJob, ImportRowError, ImportSeen, Person
from .validation import clean_tags, validate_person

MAX_CELL = 1000  # characters; longer cells are refused (no field needs more)
BATCH = 20000  # rows per transaction

FIELDS = {
    "name": gettext_lazy("Name"),
    "id_number": gettext_lazy("ID number"),
    "phone": gettext_lazy("Phone"),
    "address": gettext_lazy("Address"),
    "sex": gettext_lazy("Sex"),
    "birth_date": gettext_lazy("Birth date"),
    "place": gettext_lazy("Grid / building"),
    "tenure": gettext_lazy("Tenure"),
    "employer": gettext_lazy("Employer"),
    "tags": gettext_lazy("Tags"),
    "note": gettext_lazy("Note"),
}
REQUIRED = ("name", "id_number")

HEADER_ALIASES = {
    "name": ["姓名", "名字", "居民姓名", "name"],
    "id_number": ["身份证号", "身份证号码", "公民身份号码", "证件号码", "身份证", "idnumber", "id_number", "id"],
    "phone": ["联系电话", "手机号", "手机号码", "电话", "联系方式", "电话号码", "phone", "mobile"],
    "address": ["住址", "地址", "家庭住址", "现住址", "居住地址", "现居住地址", "address"],
    "sex": ["性别", "sex", "gender"],
    "birth_date": ["出生日期", "出生年月", "出生年月日", "birthdate", "birth_date"],
    "place": ["网格", "所属网格", "楼栋", "网格编号", "place", "grid"],
    "tenure": ["房屋性质", "住房性质", "自有租住", "居住性质", "tenure"],
    "employer": ["工作单位", "单位", "所在单位", "employer"],
    "tags": ["人员类别", "人员类型", "标签", "类别", "tags"],
    "note": ["备注", "note", "remark"],
}
_ALIAS = {alias: field for field, aliases in HEADER_ALIASES.items() for alias in aliases}

TENURE_WORDS = {
    "自有": "owned", "自住": "owned", "自购": "owned", "owned": "owned",
    "租住": "rented", "出租": "rented", "租赁": "rented", "租房": "rented", "rented": "rented",
    "其他": "other", "other": "other",
}


class ImportFileError(Exception):
    """The file as a whole cannot be imported (empty, unreadable, no required column)."""


def _norm_header(h) -> str:
    s = unicodedata.normalize("NFKC", str(h or "")).strip().lower()
    return re.sub(r"[\s*＊:：()（）_\-]", "", s)


def auto_mapping(headers: list[str]) -> dict[str, str]:
    """Column index (as str) -> field, from the headers' names."""
    mapping, used = {}, set()
    for i, h in enumerate(headers):
        field = _ALIAS.get(_norm_header(h))
        if field and field not in used:
            mapping[str(i)] = field
            used.add(field)
    return mapping


def check_mapping(mapping: dict, headers: list[str]) -> list[str]:
    problems = []
    fields = [f for f in mapping.values() if f]
    for f in fields:
        if f not in FIELDS:
            problems.append(_("Unknown field %(f)s") % {"f": f})
    for f in set(fields):
        if fields.count(f) > 1:
            problems.append(_("Field %(f)s is mapped to more than one column") % {"f": FIELDS.get(f, f)})
    for k in mapping:
        if not k.isdigit() or int(k) >= len(headers):
            problems.append(_("Column %(k)s does not exist") % {"k": k})
    for f in REQUIRED:
        if f not in fields:
            problems.append(_("Required column missing: %(f)s") % {"f": FIELDS[f]})
    return problems


# --- Reading files --------------------------------------------------------------------

def detect_format(path: Path, file_name: str) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK\x03\x04"):
        if not file_name.lower().endswith((".xlsx", ".xlsm")):
            raise ImportFileError(_("The file is a ZIP archive but not an .xlsx workbook"))
        return "xlsx"
    if file_name.lower().endswith((".xls",)) or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(_("Old .xls workbooks are not supported; save the file as .xlsx or CSV"))
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
            raise ImportFileError(_("The file is neither UTF-8 nor GBK text")) from None
    return "gb18030"


def _cell_text(v) -> str:
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


class Source:
    """A readable import file: headers, total data rows, and an iterator of rows."""

    def __init__(self, path: Path, fmt: str, encoding: str = ""):
        self.path, self.fmt, self.encoding = Path(path), fmt, encoding
        if fmt == "csv" and not encoding:
            self.encoding = detect_encoding(self.path)

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
                    raise ImportFileError(_("The CSV file is malformed: %(e)s") % {"e": exc}) from None
        else:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    yield from getattr(_XlsxSheet(zf), xlsx_method)()
            except ImportFileError:
                raise
            except Exception as exc:  # a broken ZIP or XML part
                raise ImportFileError(_("The workbook cannot be read: %(e)s") % {"e": str(exc)[:200]}) from None

    def headers(self) -> list[str]:
        for row in self._rows():
            if any(str(c).strip() for c in row):
                return [str(c).strip()[:100] for c in row]
            raise ImportFileError(_("The first row must hold the column headers"))
        raise ImportFileError(_("The file is empty"))

    def count_rows(self) -> int:
        if self.fmt != "csv":
            # The row count comes from the row numbers: no shared strings, no cell values.
            return max(next(self._rows("row_count")) - 1, 0)
        n = -1
        for n, _row in enumerate(self._rows()):
            pass
        return max(n, 0)

    def data_rows(self, skip: int = 0) -> Iterator[tuple[int, list[str]]]:
        """(spreadsheet row number, cells) of data rows after the header; row 1 is the header."""
        yield from zip(count(skip + 2), islice(self._rows(), 1 + skip, None))


# --- XLSX, streamed -------------------------------------------------------------------
# python-calamine loads a whole sheet into memory (about 12 times the file size for a
# census workbook). This reader streams the first sheet's XML out of the ZIP and keeps only
# the shared strings table, as one str plus an offset array. It yields the texts that
# _cell_text() makes of python-calamine's values for the same cells: numbers, dates and
# durations by number format (1900 and 1904 systems), booleans, errors (empty), inline and
# rich text without phonetic runs, whitespace trimmed unless xml:space="preserve",
# entities and _xHHHH_ escapes decoded. Rows are numbered from row 1 like calamine's
# (empty rows in between are yielded as [], empty rows at the end are not). Two
# differences, neither of which changes what is imported: columns count from column A
# (calamine drops leading columns that are empty in every row, for headers and data
# alike), and a row ends at its last cell instead of being padded to the widest row.
#
# Regular sheets (every row and cell with an r="" reference, values in <v>, as Excel,
# WPS, LibreOffice and openpyxl write them) take a fast path: one regular expression per
# 1 MiB of XML and a small loop per cell. Anything else in a piece of the sheet (inline
# strings, formulas, cells without references...) is read by the general parser.

_WS = b" \t\r\n"
_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_XESC = re.compile(r"_x([0-9A-Fa-f]{4})_")
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_TAG_ATTRS = rb"""((?:[^>"']|"[^"]*"|'[^']*')*)"""  # a start tag's attributes, ">" allowed in values
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan)", re.I)
_RPH = re.compile(rb"<rPh\b.*?</rPh>", re.S)
_T = re.compile(rb"<t\b([^>]*?)(?:/>|>(.*?)</t>)", re.S)
_SI_FAST = re.compile(rb"<si><t>([^<]*)</t></si>")
_SI_FAST_KEEP = re.compile(rb'<si><t( xml:space="preserve")?>([^<]*)</t></si>')
_SI = re.compile(rb"<si\b[^>]*?(?:/>|>(.*?)</si>)", re.S)
_CELL_FAST = re.compile(  # a cell: shared string | other value | empty; or a row
    rb'<(?:c r="([A-Z]+)(\d+)"(?:(?: s="\d+")? t="s"><v>(\d+)</v></c>|([^>]*)><v>([^<]+)</v></c>|[^>]*/>)'
    rb'|row r="(\d+)")'
)
_ROW_OR_CELL = re.compile(rb"<row\b([^>]*)>|<c\b([^>]*?)(/>|>(.*?)</c>)", re.S)
_V = re.compile(rb"<v\b[^>]*?(?:/>|>(.*?)</v>)", re.S)
_IS = re.compile(rb"<is\b[^>]*?(?:/>|>(.*?)</is>)", re.S)
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_DAY_MS = 86_400_000
_SST, _NUM = 0, 1  # the two common cell kinds; the others are tuples (see _XlsxSheet._kind)
_DATE, _DURATION = 1, 2  # number format kinds
_BUILTIN_DATES = {*range(14, 23), *range(27, 37), 45, 47, *range(50, 59)}  # built-in format ids (CJK ones too)


def _attrs(raw: bytes) -> dict[bytes, bytes]:
    return {k: a if a or not b else b for k, a, b in _ATTR.findall(raw)}


def _xml_text(raw: bytes, trim: bool) -> str:
    if trim:
        raw = raw.strip(_WS)
    s = raw.decode()
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in s:
        s = _ENTITY.sub(lambda m: _ENTITIES.get(m[1]) or chr(int(m[1][2:], 16) if m[1][1] == "x" else int(m[1][1:])), s)
    if "_x" in s:
        s = _XESC.sub(lambda m: chr(int(m[1], 16)), s)
    return s


def _rich_text(inner: bytes) -> str:
    """Text of an <si> or <is>: its <t> runs, without phonetic (<rPh>) runs."""
    if b"<rPh" in inner:
        inner = _RPH.sub(b"", inner)
    return "".join(_xml_text(body, b"preserve" not in attrs) for attrs, body in _T.findall(inner))


def _format_kind(code: str) -> int:
    """_DATE, _DURATION or 0 for a number format code, decided as calamine decides it."""
    escaped = quoted = ampm = hms = False
    brackets = 0
    prev = " "
    for ch in code:
        if escaped:
            escaped = False
        elif ch in "_\\*":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == ";":
            return 0
        elif ch == "[":
            brackets += 1
        elif ch == "]" and brackets == 1 and hms:
            return _DURATION
        elif ch == "]":
            brackets = max(brackets - 1, 0)
        elif ch in "aA" and not ampm and not brackets:
            ampm = True
        elif ch in "pm/PM" and ampm and not brackets:
            return _DATE
        elif ch in "dmhysDMHYS" and not ampm and not brackets:
            return _DATE
        elif not (hms and ch.lower() == prev.lower()):
            hms = prev == "[" and ch in "mhsMHS"
        prev = ch
    return 0


def _round_half_away(x: float) -> int:
    n = math.floor(abs(x))
    n += abs(x) - n >= 0.5
    return n if x >= 0 else -n


def _excel_date(value: float, date1904: bool):
    """python-calamine's value for a number with a date or time format."""
    days = value + 1462.0 if date1904 else value
    if days < 60.0:
        days += 1.0  # Excel counts a 29 February 1900 that never was
    try:
        ms = _round_half_away(days * _DAY_MS)
        if value < 1.0:
            return (dt.datetime.min + dt.timedelta(milliseconds=ms % _DAY_MS)).time()
        moment = _EXCEL_EPOCH + dt.timedelta(milliseconds=ms)
    except (OverflowError, ValueError):
        return value
    return moment.date() if value.is_integer() else moment


def _excel_duration(value: float):
    try:
        return dt.timedelta(milliseconds=_round_half_away(value * _DAY_MS))
    except (OverflowError, ValueError):
        return value


class _XlsxSheet:
    """The first worksheet of an open .xlsx ZipFile."""

    CHUNK = 1 << 20  # bytes inflated at a time
    PIECE = 1 << 15  # bytes parsed at a time: small pieces keep the garbage collector idle

    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf
        book = self._rels("")
        book_path = next((p for kind, p in book.values() if kind == "officeDocument"), "xl/workbook.xml")
        parts = self._rels(book_path)
        book_xml = zf.read(book_path)
        first = re.search(rb"<sheet\b" + _TAG_ATTRS + rb">", book_xml)
        if first is None:
            raise ImportFileError(_("The file is empty"))
        rid = next((v for k, v in _attrs(first[1]).items() if k.endswith(b":id")), b"").decode()
        self.sheet_path = parts[rid][1] if rid in parts else "xl/worksheets/sheet1.xml"
        pr = re.search(rb"<workbookPr\b" + _TAG_ATTRS + rb">", book_xml)
        self.date1904 = pr is not None and _attrs(pr[1]).get(b"date1904") in (b"1", b"true")
        by_kind = {kind: p for kind, p in reversed(parts.values())}
        self.sst_path = by_kind.get("sharedStrings")
        self.formats = self._formats(by_kind.get("styles"))
        self._kinds: dict[bytes, object] = {}
        self._cols: dict[bytes, int] = {}
        self.sst_text, self.sst_ends = "", array("q", [0])
        self.last_row = 0

    # Package structure ----------------------------------------------------------------
    def _rels(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type, part path) for the relationships of `part`."""
        folder, _sep, name = part.rpartition("/")
        try:
            xml = self.zf.read(f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels")
        except KeyError:
            return {}
        out = {}
        for raw in re.findall(rb"<Relationship\b" + _TAG_ATTRS + rb">", xml):
            a = _attrs(raw)
            target = a.get(b"Target", b"").decode()
            path = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            out[a.get(b"Id", b"").decode()] = (a.get(b"Type", b"").decode().rsplit("/", 1)[-1], path)
        return out

    def _formats(self, path: str | None) -> list[int]:
        """Number format kind of every cell style (cellXfs), by style index."""
        if not path:
            return []
        try:
            xml = self.zf.read(path)
        except KeyError:
            return []
        custom = {}
        for raw in re.findall(rb"<numFmt\b" + _TAG_ATTRS + rb">", xml):
            a = _attrs(raw)
            custom[a.get(b"numFmtId", b"")] = _format_kind(_xml_text(a.get(b"formatCode", b""), False))
        section = re.search(rb"<cellXfs\b[^>]*>(.*?)</cellXfs>", xml, re.S)
        kinds = []
        for raw in re.findall(rb"<xf\b" + _TAG_ATTRS + rb">", section[1] if section else b""):
            fid = _attrs(raw).get(b"numFmtId", b"0")
            if fid in custom:
                kinds.append(custom[fid])
            else:
                n = int(fid) if fid.isdigit() else 0
                kinds.append(_DURATION if n == 46 else _DATE if n in _BUILTIN_DATES else 0)
        return kinds

    def _pieces(self, path: str, start: bytes, tag: bytes, end: bytes | None = None) -> Iterator[bytes]:
        """The part's XML after the element `start` (up to `end`), in pieces of about CHUNK
        bytes, each cut just before an occurrence of `tag` so no such element is split."""
        buf, started = b"", False
        with self.zf.open(path) as fh:
            while True:
                data = fh.read(self.CHUNK)
                buf = buf + data if buf else data
                if not started:
                    i = buf.find(start)
                    j = buf.find(b">", i) if i >= 0 else -1
                    if j < 0:
                        if not data:
                            return
                        if i < 0:
                            buf = buf[-len(start):]
                        continue
                    if buf[j - 1:j] == b"/":
                        return  # an empty element, e.g. <sheetData/>
                    buf, started = buf[j + 1:], True
                if end is not None:
                    k = buf.find(end)
                    if k >= 0:
                        yield buf[:k]
                        return
                if not data:
                    yield buf
                    return
                cut = buf.rfind(tag)
                if cut > 0:
                    i = 0
                    while (j := buf.find(tag, i + self.PIECE, cut)) > 0:
                        yield buf[i:j]
                        i = j
                    yield buf[i:cut]
                    buf = buf[cut:]

    # Shared strings -------------------------------------------------------------------
    def _load_shared_strings(self) -> None:
        if not self.sst_path or self.sst_path not in self.zf.namelist():
            return
        parts, ends = [], array("q", [0])
        for piece in self._pieces(self.sst_path, b"<sst", b"<si"):
            n = piece.count(b"<si")
            raw = None
            if not any(c in piece for c in (b"&", b"\r", b"_x", b"\x00")):  # else: escapes to decode
                # Plain <si><t>text</t></si>: decode the whole piece at once.
                raw = list(map(bytes.strip, _SI_FAST.findall(piece)))
                if len(raw) != n:
                    found = _SI_FAST_KEEP.findall(piece)
                    raw = [t if keep else t.strip(_WS) for keep, t in found] if len(found) == n else None
            if raw is not None:
                texts = b"\x00".join(raw).decode().split("\x00") if raw else []
            else:
                texts = [_rich_text(inner) for inner in _SI.findall(piece)]
            last = ends.pop()
            ends.extend(accumulate(map(len, texts), initial=last))
            parts.append("".join(texts))
        self.sst_text, self.sst_ends = "".join(parts), ends

    # Cells ----------------------------------------------------------------------------
    def _col(self, letters: bytes) -> int:
        n = 0
        for ch in letters.upper():
            n = n * 26 + ch - 64
        self._cols[letters] = n - 1
        return n - 1

    def _kind(self, raw: bytes):
        a = _attrs(raw)
        t = a.get(b"t")
        if t == b"s":
            kind = _SST
        elif t is None or t == b"n":
            s = a.get(b"s", b"0")
            fmt = self.formats[int(s)] if s.isdigit() and int(s) < len(self.formats) else 0
            kind = _NUM if t is None and not fmt else ("n", fmt, t is not None)
        else:
            kind = (t.decode(), 0, True)
        self._kinds[raw] = kind
        return kind

    def _text(self, kind, v: bytes) -> str:
        """Text of a cell value `v` (from <v>) of kind `kind`."""
        if kind == _SST:
            i = int(v)
            if not 0 <= i < len(self.sst_ends) - 1:
                raise ImportFileError(_("The workbook cannot be read: %(e)s") % {"e": "shared string index out of range"})
            return self.sst_text[self.sst_ends[i]:self.sst_ends[i + 1]]
        t, fmt, strict = (None, 0, False) if kind == _NUM else kind
        if t in (None, "n"):
            if not _NUMBER.fullmatch(v):
                if strict:
                    raise ImportFileError(_("The workbook cannot be read: %(e)s") % {"e": "invalid number"})
                return _xml_text(v, False)
            f = float(v)
            return _cell_text(_excel_date(f, self.date1904) if fmt == _DATE else _excel_duration(f) if fmt == _DURATION else f)
        if t == "b":
            if v.strip() not in (b"0", b"1", b"true", b"false"):
                raise ImportFileError(_("The workbook cannot be read: %(e)s") % {"e": "invalid boolean"})
            return "1" if v.strip() in (b"1", b"true") else ""
        if t == "e":
            return ""
        if t == "d":
            s = v.decode().strip()
            try:
                return _cell_text(dt.datetime.fromisoformat(s) if "T" in s else dt.time.fromisoformat(s) if ":" in s
                                  else dt.date.fromisoformat(s))
            except ValueError:
                return s
        return _xml_text(v, False)  # str (a formula's text) and unknown types

    def _fast(self, piece: bytes) -> tuple[list[int], list[list[str]]] | None:
        """([row number], [cells]) of a regular piece, or None to use the general parser."""
        found = _CELL_FAST.findall(piece)
        numbers, out = [], []
        row = current = None
        last = self.last_row
        kinds, cols, text, ends = self._kinds, self._cols, self.sst_text, self.sst_ends
        for letters, digits, index, attrs, v, rownum in found:
            if index:  # a shared string
                if digits != current:
                    return None  # a cell that names another row
                i = int(index)
                val = text[ends[i]:ends[i + 1]]
            elif v:
                if digits != current:
                    return None
                kind = kinds.get(attrs)
                if kind is None:
                    kind = self._kind(attrs)
                if kind == _NUM and v.isdigit() and len(v) < 16 and (v[0] != 48 or len(v) == 1):
                    val = v.decode()  # an integer: its digits are _cell_text's str(int(float))
                else:
                    val = self._text(kind, v)
            elif rownum:
                number = int(rownum)
                if number <= last:
                    return None  # rows out of order
                row, current, last = [], rownum, number
                numbers.append(number)
                out.append(row)
                continue
            else:
                continue  # an empty cell
            col = cols.get(letters)
            if col is None:
                col = self._col(letters)
            n = len(row)
            if col == n:
                row.append(val)
            elif col > n:
                row.extend([""] * (col - n))
                row.append(val)
            else:
                return None  # cells out of order
        if len(out) != piece.count(b"<row") or len(found) - len(out) != piece.count(b"<c"):
            return None  # some row or cell is not of the regular forms
        if out:
            self.last_row = last
        return numbers, out

    def _general(self, piece: bytes, values: bool = True) -> list:
        """Any well-formed piece: cells are placed by their own reference, or after the
        previous cell of their row; rows without r="" follow the previous row."""
        grid: dict[int, dict[int, str]] = {}
        current, col = self.last_row, -1
        for m in _ROW_OR_CELL.finditer(piece):
            if m[1] is not None:  # <row>
                r = _attrs(m[1]).get(b"r")
                current = self.last_row = int(r) if r else self.last_row + 1
                grid.setdefault(current, {})
                col = -1
                continue
            raw = m[2]
            ref = _attrs(raw).get(b"r")
            row = current
            if ref:
                letters = ref.rstrip(b"0123456789")
                col = self._col(letters)
                row = int(ref[len(letters):] or current)
            else:
                col += 1
            if m[3] == b"/>":
                continue
            kind = self._kinds.get(raw)
            if kind is None:
                kind = self._kind(raw)
            if kind != _SST and kind != _NUM and kind[0] == "inlineStr":
                body = _IS.search(m[4])
                if body is not None:
                    grid.setdefault(row, {})[col] = _rich_text(body[1] or b"")
                continue
            v = _V.search(m[4])
            v = v[1] if v is not None else None
            if not v and (v is None or kind == _SST or kind == _NUM or kind[0] in ("n", "b", "d")):
                continue  # no value (a formula without a cached result, an empty number)
            grid.setdefault(row, {})[col] = self._text(kind, v) if values or kind != _SST else ""
        return [(n, [c.get(i, "") for i in range(max(c) + 1)] if c else []) for n, c in sorted(grid.items())]

    def _sheet_pieces(self) -> Iterator[bytes]:
        return self._pieces(self.sheet_path, b"<sheetData", b"<row", b"</sheetData>")

    def rows(self) -> Iterator[list[str]]:
        """Rows from row 1 to the last row with a value, as python-calamine's iter_rows."""
        self._load_shared_strings()
        expected = 1
        for piece in self._sheet_pieces():
            found = self._fast(piece)
            if found is not None:
                numbers, rows = found
                if rows and numbers[0] == expected and numbers[-1] - expected + 1 == len(rows) and [] not in rows:
                    yield from rows  # consecutive rows, all with values: the common case
                    expected = numbers[-1] + 1
                    continue
                found = zip(numbers, rows)
            for number, cells in self._general(piece) if found is None else found:
                if cells:
                    while expected < number:
                        yield []
                        expected += 1
                    yield cells
                    expected += 1

    def row_count(self) -> Iterator[int]:
        """Yields the number of rows rows() would yield, reading only row numbers where it can:
        pieces without a value are skipped; the last piece with one is parsed."""
        last_piece = None
        for piece in self._sheet_pieces():
            if piece.count(b"<row") != piece.count(b'<row r="'):
                break  # rows without numbers: count them all
            if b"<v" in piece or b"<is" in piece:
                last_piece = piece
        else:
            numbers = [n for n, cells in self._general(last_piece, values=False) if cells] if last_piece else []
            if numbers or last_piece is None:
                yield max(numbers, default=0)
                return
        self.last_row = 0
        yield max((n for piece in self._sheet_pieces() for n, cells in self._general(piece, False) if cells), default=0)


# --- Processing -----------------------------------------------------------------------
# Each batch goes through two stages. The first needs no database: reading the file,
# validating every row and computing its blind indexes and ciphertexts. It runs in a
# background thread (_Prefetch), one batch ahead of the second stage, _process_batch, which
# resolves places and employers, finds existing persons and households and writes the
# batch in one transaction. The thread works while the database writes and commits (SQLite
# in C without the GIL, PostgreSQL in its own process) and waits while the main thread
# runs Python or reads rows (SQLite hands the GIL back and forth for every row read, and
# a thread that keeps the GIL makes each hand-over wait for Python's 5 ms switch interval).

_ID_AS_NUMBER = re.compile(r"\d(\.\d+)?[eE]\+?\d+")
_VALIDATED = ("name", "id_number", "phone", "sex", "birth_date", "note")
# A new person's columns: first those the row gives (_Row.values), then those the batch
# resolves. Checked against the model before every insert.
_PERSON_COLUMNS = (
    "name", "id_enc", "id_bidx", "id_masked", "phone_enc", "phone_bidx", "phone_masked", "sex", "birth_date", "tags",
    "note", "version", "household_id", "place_id", "place_path", "employer_id", "created_at", "updated_at",
)
_HOUSEHOLD_COLUMNS = ("place_id", "place_path", "address", "tenure", "created_at", "updated_at")


class _Lookups:
    """Per-run caches: places and employers (bounded by the size of the tree), the
    mapping's columns, and the validation of tag cells (a handful of distinct texts)."""

    TAG_CACHE = 10_000

    def __init__(self, job: ImportJob, headers: list[str] | None = None):
        self.root = job.place
        self._places: dict[str, Place | None] = {}
        self._orgs: dict[str, Organization | None] = {}
        headers = job.headers if headers is None else headers
        self.fields = [(int(k), f, headers[int(k)]) for k, f in job.mapping.items() if f]
        self.col = {f: headers[int(k)] for k, f in job.mapping.items() if f}
        self.mapped = set(job.mapping.values())
        self._tags: dict[str, tuple[list[str], str | None]] = {}
        self.adapt_date = connection.ops.adapt_datefield_value
        # crypto.encrypt / blind_index with the keys looked up once per run.
        self.encrypt = crypto.encryptor()
        self.id_index, self.phone_index = crypto.blind_indexer("id"), crypto.blind_indexer("phone")
        self.reader: _Prefetch | None = None

    @contextmanager
    def overlap(self):
        """Let the reader thread work during the enclosed database call."""
        if self.reader is None:
            yield
            return
        self.reader.resume()
        try:
            yield
        finally:
            self.reader.pause()

    def place(self, text: str) -> Place | None:
        if text not in self._places:
            qs = Place.objects.filter(path__under=self.root.path)
            self._places[text] = qs.filter(code=text).first() or qs.filter(name=text).order_by("depth").first()
        return self._places[text]

    def org(self, text: str) -> Organization | None:
        if text not in self._orgs:
            self._orgs[text] = (
                Organization.objects.filter(code=text).first() or Organization.objects.filter(name=text).first()
            )
        return self._orgs[text]

    def clean_tags(self, text: str) -> tuple[list[str], str | None]:
        """validation.clean_tags, remembered: (tags, None) or ([], error message)."""
        if text not in self._tags:
            if len(self._tags) >= self.TAG_CACHE:
                self._tags.clear()
            try:
                self._tags[text] = (clean_tags(text), None)
            except IdentityError as exc:
                self._tags[text] = ([], str(exc.message))
        return self._tags[text]


def _validate(raw: dict, lookups: _Lookups) -> tuple[dict, dict]:
    """validate_person() of the row's fields, with the tags cell validated through the
    per-run cache (validation.clean_tags rebuilds its word table on every call). The
    result, errors and their order included, is validate_person's: it reports name,
    ID number and phone, then tags, then the other fields."""
    clean, errors = validate_person({k: raw.get(k, "") for k in _VALIDATED} | {"tags": ""})
    text = raw.get("tags", "")
    if text:
        tags, error = lookups.clean_tags(text)
        if error is None:
            clean["tags"] = list(tags)
        else:
            del clean["tags"]
            first = {k: errors[k] for k in ("name", "id_number", "phone") if k in errors}
            errors = first | {"tags": error} | errors
    return clean, errors


class _Row:
    """A non-blank row after the first stage: what needs no database."""

    __slots__ = ("row", "errors", "clean", "place_text", "employer_text", "tenure", "tenure_error", "address",
                 "address_error", "bidx", "phone_bidx", "values", "place", "employer", "resolved")


def _read_row(rownum: int, cells: list[str], lookups: _Lookups) -> _Row | None:
    """First stage of a row: read and validate its fields and, if they are valid, compute
    the new person's values (blind indexes, ciphertexts, masks). None for a blank row."""
    if not "".join(cells).strip():
        return None  # blank line: skipped silently
    r = _Row()
    r.row = rownum
    r.errors = errors = []
    raw = {}
    n = len(cells)
    for idx, field, header in lookups.fields:
        value = cells[idx] if idx < n else ""
        if len(value) > MAX_CELL:
            errors.append((rownum, header, _("Cell is longer than %(n)d characters") % {"n": MAX_CELL}))
            value = ""
        raw[field] = value.strip()
    col = lookups.col
    if _ID_AS_NUMBER.fullmatch(raw.get("id_number", "")):
        errors.append((rownum, col["id_number"], _("The ID number was stored as a number and lost digits; format the column as text")))
        raw["id_number"] = ""
    r.clean, field_errors = _validate(raw, lookups)
    for field, reason in field_errors.items():
        if field in col and not (field == "id_number" and any(e[1] == col["id_number"] for e in errors)):
            errors.append((rownum, col[field], reason))
        elif field not in col and field in ("name", "id_number"):
            errors.append((rownum, "", reason))
    r.place_text, r.employer_text = raw.get("place", ""), raw.get("employer", "")
    r.tenure, r.tenure_error = "owned", None
    if raw.get("tenure"):
        r.tenure = TENURE_WORDS.get(raw["tenure"].lower())
        if r.tenure is None:
            r.tenure_error = (rownum, col["tenure"], _("Tenure must be 自有, 租住 or 其他"))
    r.address = raw.get("address", "")
    r.address_error = (rownum, col["address"], _("Address is longer than 200 characters")) if len(r.address) > 200 else None
    r.bidx = r.values = None
    r.phone_bidx = ""
    if not errors and r.tenure_error is None and r.address_error is None:
        c = r.clean
        id_number, phone = c["id_number"], c.get("phone", "")
        r.bidx = lookups.id_index(id_number)
        r.phone_bidx = lookups.phone_index(phone) if phone else ""
        encrypt = lookups.encrypt
        r.values = (
            c["name"], encrypt(id_number), r.bidx, mask_id(id_number),
            encrypt(phone) if phone else None, r.phone_bidx, mask_phone(phone),
            c["sex"], lookups.adapt_date(c["birth_date"]), _tags(c), c.get("note", ""), 1,
        )
    r.resolved = _resolve_row(r, lookups, cached_only=True)
    return r


def _resolve_row(r: _Row, lookups: _Lookups, cached_only: bool = False) -> list | None:
    """Its place and employer complete a row. Returns the row's errors, as (row, column
    header, reason) in the order the checks are made; with cached_only, None unless both
    are already known (the reader thread must not use the database)."""
    if cached_only and (r.place_text and r.place_text not in lookups._places
                        or r.employer_text and r.employer_text not in lookups._orgs):
        return None
    errors = list(r.errors)
    col = lookups.col
    place = root = lookups.root
    if r.place_text:
        place = lookups.place(r.place_text)
        if place is None:
            errors.append((r.row, col["place"], _("Unknown grid or building %(p)s under %(root)s") % {"p": r.place_text[:40], "root": root.name}))
    if r.tenure_error:
        errors.append(r.tenure_error)
    employer = None
    if r.employer_text:
        employer = lookups.org(r.employer_text)
        if employer is None:
            errors.append((r.row, col["employer"], _("Unknown employer %(e)s") % {"e": r.employer_text[:40]}))
    if r.address_error:
        errors.append(r.address_error)
    r.place, r.employer = place, employer
    return errors


class _Batch:
    """Up to batch_size rows of the file after the first stage; `size` counts blank rows too."""

    __slots__ = ("rows", "size")

    def __init__(self, rows: list[_Row], size: int):
        self.rows, self.size = rows, size


def _read_batches(source: Source, skip: int, lookups: _Lookups, batch_size: int, gate: Callable[[], None] | None) -> Iterator[_Batch]:
    """The file's rows after the first `skip`, through the first stage, in batches. With a
    gate (a reader thread), it is called for every row and the GIL is released after it."""
    rows, size = [], 0
    for rownum, cells in source.data_rows(skip=skip):
        if gate is not None:
            gate()
        r = _read_row(rownum, cells, lookups)
        if r is not None:
            rows.append(r)
        size += 1
        if size >= batch_size:
            yield _Batch(rows, size)
            rows, size = [], 0
        if gate is not None:
            os.sched_yield()  # releases the GIL: the main thread takes it back as soon as the database returns
    if size:
        yield _Batch(rows, size)


# --- The first stage in a process of its own ---------------------------------------------
# Reading, validating and encrypting is pure Python: in a thread it shares the GIL with the
# writer (which needs it for every parameter it binds). For large files the first stage
# runs in a forked child process instead, on the other core, and hands its batches over a
# pipe. The child never touches the database (places and employers are resolved by the
# writer, as for rows the reader thread could not resolve), never outlives the import, and
# has the parent's settings, keys and language (fork, not spawn).

PROCESS_MIN_ROWS = 50_000  # smaller files: the reader thread (a process costs more than it saves)

# A row crosses the pipe as a tuple of its slots. The rows' validated fields (`clean`),
# needed only to update a person who exists already, travel as one pickle per batch that
# the writer unpickles only if it needs them.

class _Cleans:
    __slots__ = ("blob", "items")

    def __init__(self, blob: bytes):
        self.blob, self.items = blob, None

    def get(self, i: int) -> dict:
        if self.items is None:
            self.items = pickle.loads(self.blob)
        return self.items[i]


def _encode_batch(batch: _Batch) -> tuple:
    rows = batch.rows
    cleans = pickle.dumps([r.clean for r in rows], protocol=pickle.HIGHEST_PROTOCOL)
    return batch.size, cleans, [
        (r.row, r.errors, r.place_text, r.employer_text, r.tenure, r.tenure_error, r.address, r.address_error,
         r.bidx, r.phone_bidx, r.values)
        for r in rows
    ]


def _decode_batch(payload: tuple) -> _Batch:
    size, blob, wire = payload
    cleans = _Cleans(blob)
    rows = []
    for i, t in enumerate(wire):
        r = _Row()
        (r.row, r.errors, r.place_text, r.employer_text, r.tenure, r.tenure_error, r.address, r.address_error,
         r.bidx, r.phone_bidx, r.values) = t
        r.clean, r.resolved = (cleans, i), None
        rows.append(r)
    return _Batch(rows, size)


def _clean(rec: _Row) -> dict:
    """A row's validated fields (those of a row from the reading process come unpickled now)."""
    if isinstance(rec.clean, tuple):
        cleans, i = rec.clean
        rec.clean = cleans.get(i)
    return rec.clean


def _reader_child(items: Callable[[], Iterator[_Batch]], conn, language) -> None:
    # What the child inherited stays as it is: the garbage collector no longer walks it
    # (nor copies its pages by touching them), only the rows this process makes.
    gc.freeze()
    try:
        with translation.override(language):
            for batch in items():
                conn.send(("batch", _encode_batch(batch)))
        conn.send(("end", None))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the writer stopped: nothing to tell
    except BaseException as exc:  # handed to the writer, which raises it
        try:
            conn.send(("error", exc))
        except Exception:
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {str(exc)[:500]}")))
    finally:
        conn.close()


READER_STALL_SECONDS = 600.0


class _ProcessPrefetch:
    """_Prefetch's interface over a forked child process that makes the batches. The pipe
    holds little, so the child is at most about one batch ahead of the writer. pause() and
    resume() have nothing to do: the processes share no GIL."""

    def __init__(self, items: Callable[[], Iterator[_Batch]]):
        ctx = multiprocessing.get_context("fork")
        self._conn, child_conn = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_reader_child, args=(items, child_conn, translation.get_language()),
                                 name="fangkong-import-reader", daemon=True)
        try:
            self._proc.start()
        except BaseException:
            self._conn.close()
            raise
        finally:
            child_conn.close()

    def __iter__(self):
        while True:
            # A batch takes well under a second; a child that sends nothing for minutes is
            # stuck (a fork of a threaded process can inherit a lock that nobody will free):
            # the import stops with an error, and a resume starts a new reader.
            if not self._conn.poll(READER_STALL_SECONDS):
                raise RuntimeError("the import's reading process stopped answering") from None
            try:
                kind, payload = self._conn.recv()
            except EOFError:
                raise RuntimeError("the import's reading process ended unexpectedly") from None
            if kind == "end":
                return
            if kind == "error":
                raise payload
            yield _decode_batch(payload)

    def pause(self):
        pass

    def resume(self):
        pass

    def close(self):
        self._conn.close()
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
        self._proc.close()


def _reader(source: Source, skip: int, lookups: _Lookups, batch_size: int, rows_left: int):
    """The first stage's runner: a child process for large files (where fork exists), else a thread."""
    # A daemonic process (e.g. a multiprocessing worker pool's) may not start children.
    if rows_left >= PROCESS_MIN_ROWS and hasattr(os, "fork") and not multiprocessing.current_process().daemon:
        try:
            return _ProcessPrefetch(lambda: _read_batches(source, skip, lookups, batch_size, None))
        except OSError:  # no process to be had (limits): the thread does the same work
            pass
    return _Prefetch(lambda gate: _read_batches(source, skip, lookups, batch_size, gate))


class _Prefetch:
    """Runs an iterator in a background thread, in the consumer's language, making the next
    item while the consumer works on the current one (so two items exist at most).
    Exceptions reach the consumer after the items made before them. items(gate) makes the
    iterator; it calls gate() often, which waits while paused."""

    _EMPTY, _END = object(), object()

    class _Closed(Exception):
        pass

    def __init__(self, items: Callable[[Callable[[], None]], Iterator]):
        self._cond = threading.Condition()
        self._slot = self._EMPTY
        self._closed = False
        self._go = threading.Event()
        self._go.set()
        self._thread = threading.Thread(target=self._run, args=(items, translation.get_language()),
                                        name="fangkong-import-reader", daemon=True)
        self._thread.start()

    def _gate(self) -> None:
        self._go.wait()
        if self._closed:
            raise self._Closed

    def _hand_over(self, item) -> bool:
        """Puts the item in the slot and waits until the consumer has taken it."""
        with self._cond:
            self._slot = item
            self._cond.notify_all()
            while self._slot is not self._EMPTY and not self._closed:
                self._cond.wait()
            return not self._closed

    def _run(self, items, language):
        try:
            with translation.override(language):
                it = items(self._gate)
                try:
                    for item in it:
                        if not self._hand_over(item):
                            return
                finally:
                    it.close()
            self._hand_over(self._END)
        except self._Closed:
            pass
        except BaseException as exc:  # handed to the consumer
            self._hand_over(exc)

    def __iter__(self):
        while True:
            with self._cond:
                while self._slot is self._EMPTY:
                    self._cond.wait()
                item, self._slot = self._slot, self._EMPTY
                self._cond.notify_all()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def pause(self):
        self._go.clear()

    def resume(self):
        self._go.set()

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._go.set()
        self._thread.join()


def _tags(clean) -> str:
    return "," + ",".join(clean["tags"]) + "," if clean.get("tags") else ""


def _apply(person: Person, rec, household, mapped: set[str]) -> bool:
    """Set the fields this file carries on an existing person; True if anything changed.
    Columns the file does not have (or leaves empty, for place and address) keep the
    stored value, so a partial list never wipes data."""
    c = _clean(rec)
    new = {"name": c["name"], "sex": c["sex"], "birth_date": c["birth_date"]}
    if "phone" in mapped:
        new["phone_bidx"] = rec.phone_bidx
    if "tags" in mapped:
        new["tags"] = _tags(c)
    if "note" in mapped:
        new["note"] = c.get("note", "")
    if "employer" in mapped:
        new["employer_id"] = rec.employer.pk if rec.employer else None
    if rec.place_text:
        new["place_id"], new["place_path"] = rec.place.pk, rec.place.path
    if household is not None:
        new["household_id"] = household.pk
        new["place_id"], new["place_path"] = household.place_id, household.place_path
    changed = [k for k, v in new.items() if getattr(person, k) != v]
    if not changed:
        return False
    for k in changed:
        if k == "phone_bidx":
            for pk_, pv in phone_fields(c.get("phone", "")).items():
                setattr(person, pk_, pv)
        else:
            setattr(person, k, new[k])
    person.version += 1
    person.updated_at = timezone.now()
    return True


def _process_batch(job: ImportJob, batch: _Batch, headers, lookups, import_paths) -> None:
    """Second stage of a batch, in one transaction that also advances the job's cursor."""
    if lookups.reader is not None:
        lookups.reader.pause()
    try:
        _write_batch(job, batch, headers, lookups, import_paths)
    finally:
        if lookups.reader is not None:
            lookups.reader.resume()


def _write_batch(job: ImportJob, batch: _Batch, headers, lookups, import_paths) -> None:
    records, errors, error_rows = [], [], set()
    first_row_of: dict[str, int] = {}
    id_col = _col(job, headers, "id_number")
    for r in batch.rows:
        errs = r.resolved if r.resolved is not None else _resolve_row(r, lookups)
        rec = r
        if errs:
            errors.extend(errs)
            error_rows.add(r.row)
            continue
        bidx = rec.bidx
        if bidx in first_row_of:
            errors.append((r.row, id_col, _("Duplicate ID number in this file (first at row %(r)d)") % {"r": first_row_of[bidx]}))
            error_rows.add(r.row)
            continue
        first_row_of[bidx] = r.row
        records.append(rec)

    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        existing, seen = {}, {}
        found = _existing_ids(sorted(r.bidx for r in records))  # in index order: each probe lands near the last
        for bidxs in _chunks(found):
            existing.update((p.id_bidx, p) for p in Person.objects.filter(id_bidx__in=bidxs).order_by())
        # An ID this job has seen belongs to a person (ImportSeen rows are written in the
        # transaction that creates or matches the person, and persons are never deleted),
        # so only the IDs of existing persons can have been seen.
        for bidxs in _chunks(list(existing)):
            seen.update(ImportSeen.objects.filter(job=job, id_bidx__in=bidxs).values_list("id_bidx", "row"))
        keep = []
        for rec in records:
            earlier = seen.get(rec.bidx)
            if earlier is not None and earlier != rec.row:
                errors.append((rec.row, id_col, _("Duplicate ID number in this file (first at row %(r)d)") % {"r": earlier}))
                error_rows.add(rec.row)
                continue
            person = existing.get(rec.bidx)
            if person is not None and not any(person.place_path.startswith(p) for p in import_paths):
                errors.append((rec.row, id_col, _("This ID number is already registered outside your jurisdiction")))
                error_rows.add(rec.row)
                continue
            keep.append(rec)

        now = timezone.now()
        stamp = connection.ops.adapt_datetimefield_value(now)
        households = _households(keep, stamp, lookups)
        mapped = lookups.mapped
        new, changed, unchanged = [], [], 0
        for rec in keep:
            hh = households.get((rec.place.id, rec.address)) if rec.address else None
            person = existing.get(rec.bidx)
            if person is None:
                place, employer = rec.place, rec.employer
                new.append(rec.values + (hh.pk if hh else None, place.id, place.path,
                                            employer.id if employer else None, stamp, stamp))
            elif _apply(person, rec, hh, mapped):
                changed.append(person)
            else:
                unchanged += 1
        # In blind index order: the inserts into the unique indexes on id_bidx (persons and
        # ImportSeen) then walk each index once per batch instead of jumping around it.
        new.sort(key=itemgetter(2))
        with lookups.overlap():
            _insert(Person, _PERSON_COLUMNS, new)
        if changed:
            Person.objects.bulk_update(changed, [
                "name", "sex", "birth_date", "tags", "note", "employer", "household", "place", "place_path",
                "phone_enc", "phone_bidx", "phone_masked", "version", "updated_at",
            ])
        seen_rows = sorted((job.pk, r.bidx, r.row) for r in keep if r.bidx not in seen)
        with lookups.overlap():
            _insert(ImportSeen, ("job_id", "id_bidx", "row"), seen_rows)
        ImportRowError.objects.bulk_create([ImportRowError(job=job, row=r, column=str(c)[:100], reason=str(m)[:300]) for r, c, m in errors])
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=F("processed_rows") + batch.size,
            created_count=F("created_count") + len(new),
            updated_count=F("updated_count") + len(changed),
            unchanged_count=F("unchanged_count") + unchanged,
            error_count=F("error_count") + len(error_rows),
        )
        if lookups.reader is not None:
            lookups.reader.resume()  # during the commit


def _col(job, headers, field) -> str:
    for k, f in job.mapping.items():
        if f == field:
            return headers[int(k)]
    return ""


def _insert(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert rows of column values (already in database form): COPY on PostgreSQL,
    multi-row INSERTs on SQLite. Much cheaper than bulk_create, which builds a model
    instance and compiles every value of every row; and each statement releases the GIL
    for all its rows at once (executemany, or a RETURNING clause, would take it back after
    every row)."""
    if not rows:
        return
    if set(columns) != {f.column for f in model._meta.concrete_fields if not f.primary_key}:
        raise RuntimeError(f"the importer's column list for {model.__name__} does not match the model")
    qn = connection.ops.quote_name
    table, names = qn(model._meta.db_table), ", ".join(qn(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        # The sqlite3 cursor itself, with its own "?" placeholders: Django's wrapper would
        # rewrite every "%s" of a statement that has thousands of them, for every chunk.
        raw = cursor.cursor
        while hasattr(raw, "cursor") and not isinstance(raw, sqlite3.Cursor):
            raw = raw.cursor
        one = f"({', '.join(['?'] * len(columns))})"
        statements: dict[int, str] = {}
        for chunk in _chunks(rows, len(columns)):
            sql = statements.get(len(chunk))
            if sql is None:
                sql = statements[len(chunk)] = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))}"
            raw.execute(sql, list(chain.from_iterable(chunk)))


class _Household:
    __slots__ = ("pk", "place_id", "place_path")

    def __init__(self, pk, place_id, place_path):
        self.pk, self.place_id, self.place_path = pk, place_id, place_path


def _households(records, stamp, lookups) -> dict:
    """Find or create the households named by (place, address) in this batch."""
    wanted = {(r.place.id, r.address): r for r in records if r.address}
    if not wanted:
        return {}
    found = _find_households(sorted(wanted))
    missing = [k for k in wanted if k not in found]
    if missing:
        rows = [(pid, wanted[pid, addr].place.path, addr, wanted[pid, addr].tenure, stamp, stamp) for pid, addr in missing]
        with lookups.overlap():
            _insert(Household, _HOUSEHOLD_COLUMNS, rows)
        found.update(_find_households(missing))
    return found


def _find_households(keys: list[tuple[int, str]]) -> dict:
    """(place id, address) -> _Household, with one index probe per key (`place_id IN (...)
    AND address IN (...)` would probe every combination)."""
    table = connection.ops.quote_name(Household._meta.db_table)
    found = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(keys, 2):
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"SELECT id, place_id, place_path, address FROM {table} WHERE (place_id, address) IN "
                    f"(SELECT * FROM unnest(%s::bigint[], %s::varchar[]))", [[k[0] for k in chunk], [k[1] for k in chunk]],
                )
            else:
                cursor.execute(
                    f"WITH wanted (place_id, address) AS (VALUES {', '.join(['(%s, %s)'] * len(chunk))}) "
                    f"SELECT h.id, h.place_id, h.place_path, h.address FROM wanted JOIN {table} h "
                    f"ON h.place_id = wanted.place_id AND h.address = wanted.address",
                    list(chain.from_iterable(chunk)),
                )
            for pk, pid, path, address in cursor.fetchall():
                found[pid, address] = _Household(pk, pid, path)
    return found


def _existing_ids(bidxs: list[str]) -> list[str]:
    """Those of the ID blind indexes that belong to a person (one index probe each)."""
    table = connection.ops.quote_name(Person._meta.db_table)
    found = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT id_bidx FROM {table} WHERE id_bidx = ANY(%s)", [bidxs])
            found.extend(row[0] for row in cursor.fetchall())
        else:
            for chunk in _chunks(bidxs):
                cursor.execute(f"SELECT id_bidx FROM {table} WHERE id_bidx IN ({', '.join(['%s'] * len(chunk))})", chunk)
                found.extend(row[0] for row in cursor.fetchall())
    return found


def _chunks(items: list, params_each: int = 1):
    """`items` in slices small enough for the database's limit of query parameters. After
    the full slices the rest comes in power-of-two sizes, so that only a few distinct
    statements are made (SQLite keeps up to 128 prepared statements per connection, and
    one with thousands of parameters is large)."""
    limit = connection.features.max_query_params or 30000
    if connection.vendor == "sqlite":  # Django assumes 999; the library in use may allow more
        connection.ensure_connection()
        limit = max(limit, min(connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 30000))
    size = max(limit // params_each - 2, 1)
    i = 0
    while len(items) - i >= size:
        yield items[i:i + size]
        i += size
    while i < len(items):
        n = 1 << ((len(items) - i).bit_length() - 1)
        yield items[i:i + n]
        i += n


_CHECKPOINT_PAGES = 50_000  # ~200 MB of WAL between checkpoints during an import
_CACHE_KIB = 128 * 1024  # SQLite page cache of the importing connection (default: 2 MiB)


@contextmanager
def _sqlite_import_settings(pages: int, cache_kib: int):
    """On SQLite, for the import's connection:
    - copy the write-ahead log into the database every `pages` pages instead of after every
      commit (wal_autocheckpoint, 1000 by default): a batch dirties pages all over the
      indexes, and pages that the next batches dirty again are then written back once;
    - a page cache of `cache_kib` KiB instead of 2 MiB: a batch inserts into seven indexes
      of persons (IDs, phones and names in random order), which with the default cache are
      read back and spilled to the log again and again within one transaction.
    Durability is unchanged (journal_mode=WAL and synchronous=FULL stay: every commit is
    synced to the log); the connection's settings are restored afterwards."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        before_pages = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA cache_size")
        before_cache = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")
        cursor.execute(f"PRAGMA cache_size = {-int(cache_kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {before_pages}")
            cursor.execute(f"PRAGMA cache_size = {before_cache}")


def run_import(job: ImportJob, *, acting_user, progress: Callable[[int, int], None] | None = None, batch_size: int = BATCH) -> ImportJob:
    """Run (or resume) an import job to the end. Safe to call again after a crash."""
    from fangkong.places.access import grants_for

    import_paths = [g.place_path for g in grants_for(acting_user, "residents.import") if g.place_path is not None]
    if any(g.everything for g in grants_for(acting_user, "residents.import")):
        import_paths = [""]
    source = Source(Path(job.stored_path), job.file_format, job.encoding)
    headers = job.headers
    lookups = _Lookups(job, headers)
    if job.total_rows == 0:
        job.total_rows = source.count_rows()
    job.status = ImportJob.Status.RUNNING
    job.save(update_fields=["status", "total_rows", "updated_at"])
    if job.processed_rows == 0:
        record(acting_user, "residents.import.start", obj=job, detail={"file": job.file_name, "rows": job.total_rows})
    skip = job.processed_rows
    batches = lookups.reader = _reader(source, skip, lookups, batch_size, job.total_rows - skip)
    try:
        with _sqlite_import_settings(_CHECKPOINT_PAGES, _CACHE_KIB):
            for batch in batches:
                _process_batch(job, batch, headers, lookups, import_paths)
                if progress:
                    job.refresh_from_db(fields=["processed_rows"])
                    progress(job.processed_rows, job.total_rows)
    except ImportFileError as exc:
        job.refresh_from_db()
        job.status, job.message = ImportJob.Status.FAILED, str(exc)[:500]
        job.save(update_fields=["status", "message", "updated_at"])
        record(acting_user, "residents.import.finish", obj=job, outcome="failed", detail={"message": job.message})
        return job
    finally:
        batches.close()
    job.refresh_from_db()
    if progress:
        progress(job.processed_rows, job.total_rows)
    job.status = ImportJob.Status.DONE
    job.total_rows = job.processed_rows
    job.save(update_fields=["status", "total_rows", "updated_at"])
    _forget_seen(job)
    record(acting_user, "residents.import.finish", obj=job, detail={
        "created": job.created_count, "updated": job.updated_count,
        "unchanged": job.unchanged_count, "errors": job.error_count,
    })
    return job


def _forget_seen(job: ImportJob) -> None:
    """Delete the job's ImportSeen rows. When no other job has rows there, SQLite empties
    the table with a DELETE without WHERE, which drops its pages instead of visiting every
    row and index entry (the check and the delete share one write transaction)."""
    with transaction.atomic():
        others = ImportSeen.objects.filter(job_id__lt=job.pk).exists() or ImportSeen.objects.filter(job_id__gt=job.pk).exists()
        if connection.vendor == "sqlite" and not others:
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(ImportSeen._meta.db_table)}")
        else:
            ImportSeen.objects.filter(job=job).delete()


def create_job(*, acting_user, place: Place, stored_path: Path, file_name: str) -> ImportJob:
    """Inspect an uploaded file and create a job waiting for mapping confirmation.
    Raises ImportFileError for a file that cannot be imported at all."""
    fmt = detect_format(stored_path, file_name)
    source = Source(stored_path, fmt)
    headers = source.headers()
    job = ImportJob.objects.create(
        created_by=acting_user, place=place, place_path=place.path, file_name=file_name[:255],
        stored_path=str(stored_path), file_format=fmt, encoding=source.encoding, headers=headers,
        mapping=auto_mapping(headers),
    )
    record(acting_user, "residents.import.upload", obj=job, detail={"file": file_name[:100], "format": fmt})
    return job


def error_report_rows(job: ImportJob):
    yield [_("Row"), _("Column"), _("Reason")]
    for err in job.errors.all().iterator(chunk_size=2000):
        yield [err.row, err.column, err.reason]
