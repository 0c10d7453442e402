"""The first worksheet of an .xlsx workbook, streamed: rows of cell texts, in constant
memory. Used through fangkong.lib.sheets.Table; XlsxSheet is the part reader.

python-calamine loads a whole sheet into memory (about 12 times the file size for a
census workbook). This reader streams the first sheet's XML out of the ZIP and keeps only
the shared strings table, as one str plus an offset array. It yields the texts that
cell_text() makes of python-calamine's values for the same cells: numbers, dates and
durations by number format (1900 and 1904 systems), booleans, errors (empty), inline and
rich text without phonetic runs, whitespace trimmed unless xml:space="preserve",
entities and _xHHHH_ escapes decoded. Rows are numbered from row 1 like calamine's
(empty rows in between are yielded as [], empty rows at the end are not). Two
differences, neither of which changes what is imported: columns count from column A
(calamine drops leading columns that are empty in every row, for headers and data
alike), and a row ends at its last cell instead of being padded to the widest row.

Hostile workbooks are refused with a SheetError, in bounded time and memory: every part is
inflated through a counter (a part may not inflate to more than MAX_RATIO times its
compressed bytes read so far, past RATIO_FLOOR, nor beyond MAX_PART_BYTES), the shared
strings table has caps on its entries and characters, and reading the workbook up to its
first row has a wall-clock budget (SETUP_SECONDS). A formula cell without a stored value
reads as values.UNCACHED (an empty text that the row reader reports).

Regular sheets (every row and cell with an r="" reference, values in <v>, as Excel,
WPS, LibreOffice and openpyxl write them) take a fast path: one regular expression per
1 MiB of XML and a small loop per cell. Anything else in a piece of the sheet (inline
strings, formulas, cells without references...) is read by the general parser.
"""
from __future__ import annotations

import datetime as dt
import math
import posixpath
import re
import zipfile
from array import array
from collections.abc import Iterator
from itertools import accumulate

from django.utils.translation import gettext as _

import time

from .values import UNCACHED, SheetError, cell_text

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
_ISO_VALUE = re.compile(r"\d{4}-\d\d-\d\d(?:T\d\d:\d\d:\d\d(?:\.\d+)?)?|\d\d:\d\d(?::\d\d(?:\.\d+)?)?")  # a t="d" value read as a date/time
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_DAY_MS = 86_400_000
_SST, _NUM = 0, 1  # the two common cell kinds; the others are tuples (see XlsxSheet._kind)
_DATE, _DURATION = 1, 2  # number format kinds
_BUILTIN_DATES = {*range(14, 23), *range(27, 37), 45, 47, *range(50, 59)}  # built-in format ids (CJK ones too)


def _refuse(why: str) -> SheetError:
    exc = SheetError(_("The workbook is refused: %(why)s") % {"why": why})
    exc.final = True  # reading it again would be refused again
    return exc


class _Bounded:
    """A part's inflated stream, counted: SheetError once it inflates beyond `limit` bytes
    or beyond `ratio` times the compressed bytes read so far (past `floor` bytes). A
    decompression bomb is stopped after reading little more than `floor` bytes."""

    def __init__(self, fh, size: int, limit: int, ratio: int, floor: int, counter: list | None = None):
        self.fh, self.size, self.limit, self.ratio, self.floor, self.counter = fh, size, limit, ratio, floor, counter
        self.out = 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.out += len(data)
        if self.counter is not None:
            self.counter[0] += len(data)
        if self.out > self.limit:
            raise _refuse(_("a part of it is larger than %(n)d MB uncompressed") % {"n": self.limit >> 20})
        if self.out > self.floor:
            # The compressed bytes inflated so far: CPython's ZipExtFile counts those not yet
            # read from the file, and its decompressor holds those read but not inflated.
            left = getattr(self.fh, "_compress_left", None)
            tail = getattr(getattr(self.fh, "_decompressor", None), "unconsumed_tail", b"")
            read = self.size - left - len(tail) if isinstance(left, int) else self.size
            if self.out > self.ratio * max(read, 1):
                raise _refuse(_("a part of it inflates more than %(n)d times (a decompression bomb)") % {"n": self.ratio})
        return data

    def close(self):
        self.fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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
        if trim:  # whitespace written as character references is trimmed too (Excel's "&#xA;" cell is empty)
            s = s.strip(" \t\r\n")
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


class _Ref(int):
    """A shared string's index, in a row read by head() before the strings are looked up."""


class XlsxSheet:
    """The first worksheet of an open .xlsx ZipFile."""

    CHUNK = 1 << 20  # bytes inflated at a time
    PIECE = 1 << 15  # bytes parsed at a time: small pieces keep the garbage collector idle
    # Hostile workbooks (see the module's docstring). Legitimate sheet XML inflates 5 to 30
    # times; a census of a million rows has a few million distinct strings.
    MAX_RATIO = 100
    RATIO_FLOOR = 16 << 20
    MAX_PART_BYTES = 8 << 30
    MAX_META_BYTES = 64 << 20  # workbook, relationships, styles
    MAX_ELEMENT_BYTES = 64 << 20  # one row of the sheet, one shared string
    MAX_SHARED_STRINGS = 8_000_000
    MAX_SHARED_CHARS = 48_000_000
    SETUP_SECONDS = 20.0
    inflated = [0]  # bytes inflated by every reader of this process (tests read it)

    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf
        self.deadline = time.monotonic() + self.SETUP_SECONDS
        # Part names are case-insensitive (OPC): a relationship may name "sharedStrings.xml"
        # for a part stored as "SharedStrings.xml".
        self._names = {n.lower(): n for n in zf.namelist()}
        book = self._rels("")
        book_path = next((p for kind, p in book.values() if kind == "officeDocument"), "xl/workbook.xml")
        parts = self._rels(book_path)
        book_xml = self._read(book_path)
        first = re.search(rb"<sheet\b" + _TAG_ATTRS + rb">", book_xml)
        if first is None:
            raise SheetError(_("The file is empty"))
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
        self._refs = False  # head(): shared strings as _Ref until resolved

    # Package structure ----------------------------------------------------------------
    def _open(self, part: str, limit: int | None = None) -> _Bounded:
        """A part's inflated stream, counted and bounded; KeyError if absent."""
        info = self.zf.getinfo(self._names.get(part.lower(), part))
        fh = self.zf.open(info)
        return _Bounded(fh, info.compress_size, limit or self.MAX_PART_BYTES, self.MAX_RATIO, self.RATIO_FLOOR, XlsxSheet.inflated)

    def _read(self, part: str) -> bytes:
        """A part's bytes, its name matched without regard to case; KeyError if absent."""
        with self._open(part, self.MAX_META_BYTES) as fh:
            out = []
            while data := fh.read(self.CHUNK):
                out.append(data)
            return b"".join(out)

    def _in_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise _refuse(_("reading it takes too long"))

    def _rels(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type, part path) for the relationships of `part`."""
        folder, _sep, name = part.rpartition("/")
        try:
            xml = self._read(f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels")
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
            xml = self._read(path)
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
        with self._open(path) as fh:
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
                if len(buf) > self.MAX_ELEMENT_BYTES:
                    raise _refuse(_("one row or text in it is larger than %(n)d MB") % {"n": self.MAX_ELEMENT_BYTES >> 20})
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
        if not self.sst_path or self.sst_path.lower() not in self._names:
            return
        parts, ends = [], array("q", [0])
        chars = 0
        for piece in self._pieces(self.sst_path, b"<sst", b"<si"):
            self._in_time()
            n = piece.count(b"<si")
            if len(ends) + n > self.MAX_SHARED_STRINGS:
                raise _refuse(_("more than %(n)d different texts") % {"n": self.MAX_SHARED_STRINGS})
            texts = self._piece_texts(piece, n)
            last = ends.pop()
            ends.extend(accumulate(map(len, texts), initial=last))
            parts.append("".join(texts))
            chars += len(parts[-1])
            if chars > self.MAX_SHARED_CHARS:
                raise _refuse(_("its texts are longer than %(n)d characters") % {"n": self.MAX_SHARED_CHARS})
        self.sst_text, self.sst_ends = "".join(parts), ends

    @staticmethod
    def _piece_texts(piece: bytes, n: int) -> list[str]:
        """The texts of the n <si> items of a piece of the shared strings."""
        raw = None
        if not any(c in piece for c in (b"&", b"\r", b"_x", b"\x00")):  # else: escapes to decode
            # Plain <si><t>text</t></si>: decode the whole piece at once.
            raw = list(map(bytes.strip, _SI_FAST.findall(piece)))
            if len(raw) != n:
                found = _SI_FAST_KEEP.findall(piece)
                raw = [t if keep else t.strip(_WS) for keep, t in found] if len(found) == n else None
        if raw is not None:
            return b"\x00".join(raw).decode().split("\x00") if raw else []
        return [_rich_text(inner) for inner in _SI.findall(piece)]

    def _shared_strings_at(self, wanted: set[int]) -> dict[int, str]:
        """The shared strings of the given indexes, reading the table only up to the last."""
        out: dict[int, str] = {}
        if not wanted or not self.sst_path or self.sst_path.lower() not in self._names:
            return out
        last, base = max(wanted), 0
        for piece in self._pieces(self.sst_path, b"<sst", b"<si"):
            self._in_time()
            n = piece.count(b"<si")
            if any(base <= i < base + n for i in wanted):
                texts = self._piece_texts(piece, n)
                out.update((i, texts[i - base]) for i in wanted if base <= i < base + len(texts))
            base += n
            if base > last:
                break
        return out

    def head(self, max_rows: int) -> tuple[list[list[str]], bool]:
        """(rows, more): the first `max_rows` rows as rows() yields them, and whether the
        sheet goes on below them. Reads only the start of the sheet and the shared strings
        up to the last one these rows use: a look at the headers that stays cheap for any
        workbook (the whole file is read in the background)."""
        found: dict[int, list] = {}
        more = False
        self._refs, self.last_row = True, 0
        try:
            for piece in self._sheet_pieces():
                self._in_time()
                for number, cells in self._general(piece):
                    if number > max_rows:
                        more = more or bool(cells)
                    elif cells:
                        found[number] = cells
                if self.last_row > max_rows:
                    more = True  # rows beyond: whether they hold values is left to the full read
                    break
        finally:
            self._refs = False
        strings = self._shared_strings_at({c for cells in found.values() for c in cells if type(c) is _Ref})
        rows = [[strings.get(c, "") if type(c) is _Ref else c for c in found.get(i, [])]
                for i in range(1, max(found, default=0) + 1)]
        return rows, more

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
            if self._refs:
                return _Ref(int(v))
            i = int(v)
            if not 0 <= i < len(self.sst_ends) - 1:
                raise SheetError(_("The workbook cannot be read: %(e)s") % {"e": "shared string index out of range"})
            return self.sst_text[self.sst_ends[i]:self.sst_ends[i + 1]]
        t, fmt, strict = (None, 0, False) if kind == _NUM else kind
        if t in (None, "n"):
            if not _NUMBER.fullmatch(v):
                if strict:
                    raise SheetError(_("The workbook cannot be read: %(e)s") % {"e": "invalid number"})
                return _xml_text(v, False)
            f = float(v)
            return cell_text(_excel_date(f, self.date1904) if fmt == _DATE else _excel_duration(f) if fmt == _DURATION else f)
        if t == "b":
            if v.strip() not in (b"0", b"1", b"true", b"false"):
                raise SheetError(_("The workbook cannot be read: %(e)s") % {"e": "invalid boolean"})
            return "1" if v.strip() in (b"1", b"true") else ""
        if t == "e":
            return ""
        if t == "d":
            s = v.decode().strip()
            if not _ISO_VALUE.fullmatch(s):
                return s  # e.g. a date-time without seconds: kept as written, as calamine keeps it
            try:
                return cell_text(dt.datetime.fromisoformat(s) if "T" in s else dt.time.fromisoformat(s) if ":" in s
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
                    val = v.decode()  # an integer: its digits are cell_text's str(int(float))
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
                if b"<f" in m[4]:  # a formula whose result the file does not store: said on its row
                    grid.setdefault(row, {})[col] = UNCACHED
                continue  # no value (an empty number)
            grid.setdefault(row, {})[col] = self._text(kind, v) if values or kind != _SST else ""
        return [(n, [c.get(i, "") for i in range(max(c) + 1)] if c else []) for n, c in sorted(grid.items())]

    def _sheet_pieces(self) -> Iterator[bytes]:
        return self._pieces(self.sheet_path, b"<sheetData", b"<row", b"</sheetData>")

    def rows(self) -> Iterator[list[str]]:
        """Rows from row 1 to the last row with a value, as python-calamine's iter_rows."""
        self._load_shared_strings()
        self._in_time()
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
