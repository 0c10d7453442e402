"""Resident import from CSV (UTF-8 or GBK/GB18030) and XLSX with Chinese headers.

Streaming: rows are read one at a time and written in batches; memory does not grow with
the file. Each batch is one transaction that also advances the job's cursor
(`processed_rows`), so a crash loses nothing and a resumed job neither skips nor repeats a
row. Idempotent on the ID number: a row whose person already exists with the same data
changes nothing. Duplicates inside one file are found through ImportSeen (on disk, not in
memory).
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import crypto
from fangkong.lib.identity import IdentityError
from fangkong.places.models import Organization, Place

from .actions import id_fields, phone_fields
from .models import Household, ImportJob, ImportRowError, ImportSeen, Person
from .validation import validate_person

MAX_CELL = 1000  # characters; longer cells are refused (no field needs more)
BATCH = 1000

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

    def _rows(self) -> Iterator[list]:
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
            from python_calamine import CalamineWorkbook

            try:
                wb = CalamineWorkbook.from_path(str(self.path))
                sheet = wb.get_sheet_by_index(0)
                for row in sheet.iter_rows():
                    yield [_cell_text(v) for v in row]
            except ImportFileError:
                raise
            except Exception as exc:  # calamine raises its own error types for broken files
                raise ImportFileError(_("The workbook cannot be read: %(e)s") % {"e": str(exc)[:200]}) from None

    def headers(self) -> list[str]:
        for row in self._rows():
            if any(str(c).strip() for c in row):
                return [str(c).strip()[:100] for c in row]
            raise ImportFileError(_("The first row must hold the column headers"))
        raise ImportFileError(_("The file is empty"))

    def count_rows(self) -> int:
        n = -1
        for n, _row in enumerate(self._rows()):
            pass
        return max(n, 0)

    def data_rows(self, skip: int = 0) -> Iterator[tuple[int, list[str]]]:
        """(spreadsheet row number, cells) of data rows after the header; row 1 is the header."""
        it = self._rows()
        next(it, None)
        for i, row in enumerate(it):
            if i < skip:
                continue
            yield i + 2, row


# --- Processing -----------------------------------------------------------------------

class _Lookups:
    """Per-job caches of places and employers, bounded by the size of the tree."""

    def __init__(self, job: ImportJob):
        self.root = job.place
        self._places: dict[str, Place | None] = {}
        self._orgs: dict[str, Organization | None] = {}

    def place(self, text: str) -> Place | None:
        if text not in self._places:
            qs = Place.objects.filter(path__startswith=self.root.path)
            self._places[text] = qs.filter(code=text).first() or qs.filter(name=text).order_by("depth").first()
        return self._places[text]

    def org(self, text: str) -> Organization | None:
        if text not in self._orgs:
            self._orgs[text] = (
                Organization.objects.filter(code=text).first() or Organization.objects.filter(name=text).first()
            )
        return self._orgs[text]


def _parse_row(rownum, cells, job, headers, lookups):
    """Returns (record, errors): errors as (row, column header, reason)."""
    if all(not str(c).strip() for c in cells):
        return None, []  # blank line: skipped silently
    errors = []
    raw = {}
    for key, field in job.mapping.items():
        if not field:
            continue
        idx = int(key)
        value = cells[idx] if idx < len(cells) else ""
        value = "" if value is None else str(value)
        if len(value) > MAX_CELL:
            errors.append((rownum, headers[idx], _("Cell is longer than %(n)d characters") % {"n": MAX_CELL}))
            value = ""
        raw[field] = value.strip()
    col = {field: headers[int(k)] for k, field in job.mapping.items() if field}
    id_text = raw.get("id_number", "")
    if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", id_text):
        errors.append((rownum, col["id_number"], _("The ID number was stored as a number and lost digits; format the column as text")))
        raw["id_number"] = ""
    clean, field_errors = validate_person(
        {k: raw.get(k, "") for k in ("name", "id_number", "phone", "sex", "birth_date", "tags", "note")}
    )
    for field, reason in field_errors.items():
        if field in col and not (field == "id_number" and any(e[1] == col["id_number"] for e in errors)):
            errors.append((rownum, col[field], reason))
        elif field not in col and field in ("name", "id_number"):
            errors.append((rownum, "", reason))
    place = job.place
    if raw.get("place"):
        place = lookups.place(raw["place"])
        if place is None:
            errors.append((rownum, col["place"], _("Unknown grid or building %(p)s under %(root)s") % {"p": raw["place"][:40], "root": job.place.name}))
    tenure = "owned"
    if raw.get("tenure"):
        tenure = TENURE_WORDS.get(raw["tenure"].lower())
        if tenure is None:
            errors.append((rownum, col["tenure"], _("Tenure must be 自有, 租住 or 其他")))
    employer = None
    if raw.get("employer"):
        employer = lookups.org(raw["employer"])
        if employer is None:
            errors.append((rownum, col["employer"], _("Unknown employer %(e)s") % {"e": raw["employer"][:40]}))
    address = raw.get("address", "")
    if len(address) > 200:
        errors.append((rownum, col["address"], _("Address is longer than 200 characters")))
    if errors:
        return None, errors
    return {"row": rownum, "clean": clean, "place": place, "place_given": bool(raw.get("place")),
            "address": address, "tenure": tenure, "employer": employer}, []


def _tags(clean) -> str:
    return "," + ",".join(clean["tags"]) + "," if clean.get("tags") else ""


def _apply(person: Person, rec, household, mapped: set[str]) -> bool:
    """Set the fields this file carries on an existing person; True if anything changed.
    Columns the file does not have (or leaves empty, for place and address) keep the
    stored value, so a partial list never wipes data."""
    c = rec["clean"]
    new = {"name": c["name"], "sex": c["sex"], "birth_date": c["birth_date"]}
    if "phone" in mapped:
        new["phone_bidx"] = crypto.blind_index("phone", c["phone"]) if c.get("phone") else ""
    if "tags" in mapped:
        new["tags"] = _tags(c)
    if "note" in mapped:
        new["note"] = c.get("note", "")
    if "employer" in mapped:
        new["employer_id"] = rec["employer"].pk if rec["employer"] else None
    if rec["place_given"]:
        new["place_id"], new["place_path"] = rec["place"].pk, rec["place"].path
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


def _process_batch(job: ImportJob, batch, headers, lookups, import_paths) -> None:
    records, errors, error_rows = [], [], set()
    first_row_of: dict[str, int] = {}
    for rownum, cells in batch:
        rec, errs = _parse_row(rownum, cells, job, headers, lookups)
        if errs:
            errors.extend(errs)
            error_rows.add(rownum)
            continue
        if rec is None:
            continue
        rec["bidx"] = crypto.blind_index("id", rec["clean"]["id_number"])
        if rec["bidx"] in first_row_of:
            errors.append((rownum, _col(job, headers, "id_number"), _("Duplicate ID number in this file (first at row %(r)d)") % {"r": first_row_of[rec["bidx"]]}))
            error_rows.add(rownum)
            continue
        first_row_of[rec["bidx"]] = rownum
        records.append(rec)

    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        bidxs = [r["bidx"] for r in records]
        seen = dict(ImportSeen.objects.filter(job=job, id_bidx__in=bidxs).values_list("id_bidx", "row"))
        existing = {p.id_bidx: p for p in Person.objects.filter(id_bidx__in=bidxs)}
        keep = []
        for rec in records:
            earlier = seen.get(rec["bidx"])
            if earlier is not None and earlier != rec["row"]:
                errors.append((rec["row"], _col(job, headers, "id_number"), _("Duplicate ID number in this file (first at row %(r)d)") % {"r": earlier}))
                error_rows.add(rec["row"])
                continue
            person = existing.get(rec["bidx"])
            if person is not None and not any(person.place_path.startswith(p) for p in import_paths):
                errors.append((rec["row"], _col(job, headers, "id_number"), _("This ID number is already registered outside your jurisdiction")))
                error_rows.add(rec["row"])
                continue
            keep.append(rec)

        households = _households(keep)
        mapped = set(job.mapping.values())
        new, changed, unchanged = [], [], 0
        for rec in keep:
            hh = households.get((rec["place"].pk, rec["address"])) if rec["address"] else None
            person = existing.get(rec["bidx"])
            c = rec["clean"]
            if person is None:
                new.append(Person(
                    household=hh, place=rec["place"], place_path=rec["place"].path, name=c["name"], sex=c["sex"],
                    birth_date=c["birth_date"], employer=rec["employer"], tags=_tags(c), note=c.get("note", ""),
                    **id_fields(c["id_number"]), **phone_fields(c.get("phone", "")),
                ))
            elif _apply(person, rec, hh, mapped):
                changed.append(person)
            else:
                unchanged += 1
        Person.objects.bulk_create(new)
        if changed:
            Person.objects.bulk_update(changed, [
                "name", "sex", "birth_date", "tags", "note", "employer", "household", "place", "place_path",
                "phone_enc", "phone_bidx", "phone_masked", "version", "updated_at",
            ])
        ImportSeen.objects.bulk_create(
            [ImportSeen(job=job, id_bidx=r["bidx"], row=r["row"]) for r in keep if r["bidx"] not in seen],
        )
        ImportRowError.objects.bulk_create([ImportRowError(job=job, row=r, column=str(c)[:100], reason=str(m)[:300]) for r, c, m in errors])
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=F("processed_rows") + len(batch),
            created_count=F("created_count") + len(new),
            updated_count=F("updated_count") + len(changed),
            unchanged_count=F("unchanged_count") + unchanged,
            error_count=F("error_count") + len(error_rows),
        )


def _col(job, headers, field) -> str:
    for k, f in job.mapping.items():
        if f == field:
            return headers[int(k)]
    return ""


def _households(records) -> dict:
    """Find or create the households named by (place, address) in this batch."""
    wanted = {(r["place"].pk, r["address"]): r for r in records if r["address"]}
    if not wanted:
        return {}
    found = {}
    place_ids = {k[0] for k in wanted}
    addresses = {k[1] for k in wanted}
    for hh in Household.objects.filter(place_id__in=place_ids, address__in=addresses):
        found[(hh.place_id, hh.address)] = hh
    missing = [
        Household(place=r["place"], place_path=r["place"].path, address=addr, tenure=r["tenure"])
        for (pid, addr), r in wanted.items() if (pid, addr) not in found
    ]
    if missing:
        Household.objects.bulk_create(missing)
        for hh in Household.objects.filter(place_id__in={h.place_id for h in missing}, address__in={h.address for h in missing}):
            found[(hh.place_id, hh.address)] = hh
    return found


def run_import(job: ImportJob, *, acting_user, progress: Callable[[int, int], None] | None = None, batch_size: int = BATCH) -> ImportJob:
    """Run (or resume) an import job to the end. Safe to call again after a crash."""
    from fangkong.places.access import grants_for

    import_paths = [g.place_path for g in grants_for(acting_user, "residents.import") if g.place_path is not None]
    if any(g.everything for g in grants_for(acting_user, "residents.import")):
        import_paths = [""]
    source = Source(Path(job.stored_path), job.file_format, job.encoding)
    headers = job.headers
    lookups = _Lookups(job)
    if job.total_rows == 0:
        job.total_rows = source.count_rows()
    job.status = ImportJob.Status.RUNNING
    job.save(update_fields=["status", "total_rows", "updated_at"])
    if job.processed_rows == 0:
        record(acting_user, "residents.import.start", obj=job, detail={"file": job.file_name, "rows": job.total_rows})
    try:
        batch = []
        for item in source.data_rows(skip=job.processed_rows):
            batch.append(item)
            if len(batch) >= batch_size:
                _process_batch(job, batch, headers, lookups, import_paths)
                batch = []
                if progress:
                    job.refresh_from_db(fields=["processed_rows"])
                    progress(job.processed_rows, job.total_rows)
        if batch:
            _process_batch(job, batch, headers, lookups, import_paths)
    except ImportFileError as exc:
        job.refresh_from_db()
        job.status, job.message = ImportJob.Status.FAILED, str(exc)[:500]
        job.save(update_fields=["status", "message", "updated_at"])
        record(acting_user, "residents.import.finish", obj=job, outcome="failed", detail={"message": job.message})
        return job
    job.refresh_from_db()
    if progress:
        progress(job.processed_rows, job.total_rows)
    job.status = ImportJob.Status.DONE
    job.total_rows = job.processed_rows
    job.save(update_fields=["status", "total_rows", "updated_at"])
    ImportSeen.objects.filter(job=job).delete()
    record(acting_user, "residents.import.finish", obj=job, detail={
        "created": job.created_count, "updated": job.updated_count,
        "unchanged": job.unchanged_count, "errors": job.error_count,
    })
    return job


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
