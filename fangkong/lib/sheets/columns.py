"""Which column holds which field: headers recognised by their (Chinese or English)
names, a mapping checked before anything is read, and rows read into {field: text} with
the problems of each row."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from .table import Table
from .values import Uncached


def norm_header(h) -> str:
    """A header as compared with the aliases: NFKC (full-width to half-width), lower case,
    without spaces, asterisks, colons, brackets, underscores and hyphens."""
    s = unicodedata.normalize("NFKC", str(h or "")).strip().lower()
    return re.sub(r"[\s*＊:：()（）_\-]", "", s)


class Columns:
    """The fields of one kind of list. `labels` maps each field to its (lazy) label,
    `aliases` each field to the header texts that name it (compared after norm_header),
    `required` the fields a mapping must have. A mapping is {column index as str: field}."""

    def __init__(self, labels: Mapping[str, object], aliases: Mapping[str, Iterable[str]], required: Iterable[str] = ()):
        self.labels, self.required = labels, tuple(required)
        self._alias = {norm_header(a): f for f, names in aliases.items() for a in names}

    def auto_mapping(self, headers: list[str]) -> dict[str, str]:
        """Column index (as str) -> field, from the headers' names (the first column of a field wins)."""
        mapping, used = {}, set()
        for i, h in enumerate(headers):
            f = self._alias.get(norm_header(h))
            if f and f not in used:
                mapping[str(i)] = f
                used.add(f)
        return mapping

    def check_mapping(self, mapping: dict, headers: list[str]) -> list[str]:
        """The problems of a mapping, in the user's language; [] if it can be used."""
        problems = []
        fields = [f for f in mapping.values() if f]
        for f in fields:
            if f not in self.labels:
                problems.append(_("Unknown field %(f)s") % {"f": f})
        for f in set(fields):
            if fields.count(f) > 1:
                problems.append(_("Field %(f)s is mapped to more than one column") % {"f": self.labels.get(f, f)})
        for k in mapping:
            if not k.isdigit() or int(k) >= len(headers):
                problems.append(_("Column %(k)s does not exist") % {"k": k})
        for f in self.required:
            if f not in fields:
                problems.append(_("Required column missing: %(f)s") % {"f": self.labels[f]})
        return problems

    def find_header_row(self, table: Table, within: int = 10) -> int | None:
        """The number of the first of the first `within` rows whose headers name every
        required field (a title, merged or not, may stand above the headers), or None."""
        for number, row in enumerate(table.head(within)[0], 1):
            found = set(self.auto_mapping([str(c).strip() for c in row]).values())
            if row and found.issuperset(self.required) and found:
                return number
        return None

    def reader(self, mapping: dict, headers: list[str], max_cell: int = 1000) -> RowReader:
        return RowReader(mapping, headers, max_cell)


class RowReader:
    """Reads a row's cells into {field: stripped text} with its errors as (row number,
    column header, reason). A cell longer than `max_cell` characters is an error and
    reads as "", as does a formula whose value the file does not store; a field whose
    column the row lacks reads as "". `failed` holds the fields of the last row read whose
    cell was refused here: their other checks would only repeat the error."""

    def __init__(self, mapping: dict, headers: list[str], max_cell: int = 1000):
        self.fields = [(int(k), f, headers[int(k)]) for k, f in mapping.items() if f]
        self.header = {f: headers[int(k)] for k, f in mapping.items() if f}  # field -> its column's header
        self.max_cell = max_cell
        self.failed: set[str] = set()

    def __call__(self, number: int, cells: list[str]) -> tuple[dict[str, str], list[tuple[int, str, str]]]:
        values, errors = {}, []
        n, limit = len(cells), self.max_cell
        self.failed = failed = set()
        for idx, f, header in self.fields:
            value = cells[idx] if idx < n else ""
            if len(value) > limit:
                errors.append((number, header, _("Cell is longer than %(n)d characters") % {"n": limit}))
                value = ""
                failed.add(f)
            elif value.__class__ is Uncached:
                errors.append((number, header, _("The cell holds a formula whose value the file does not store; "
                                                 "open the file in Excel or WPS, save it and upload it again")))
                failed.add(f)
            values[f] = value.strip()
        return values, errors


@dataclass(slots=True)
class Record:
    """A non-blank data row: its spreadsheet row number, {field: text} and its errors as
    (row number, column header, reason); a module adds its own checks to `errors`."""

    number: int
    values: dict[str, str]
    errors: list[tuple[int, str, str]] = field(default_factory=list)


def records(table: Table, reader: RowReader, skip: int = 0) -> Iterator[Record]:
    """The table's data rows after the first `skip`, blank rows left out, read by `reader`."""
    for number, cells in table.data_rows(skip=skip):
        if "".join(cells).strip():
            yield Record(number, *reader(number, cells))
