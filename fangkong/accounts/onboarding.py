"""Bulk onboarding of staff from a spreadsheet (XLSX/CSV): name, phone, role, place or
organization code, optional dates. Each row creates the account (one per phone number)
and grants the role through the same actions as the pages (delegation checked row by
row); people already holding the grant and repeated rows are reported, not doubled, so
the same sheet uploaded twice creates nobody twice. Rows with errors go to the error file
(as the residents import's). The result is a printable sheet of one-time QR codes."""
from __future__ import annotations

from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.audit.actions import record
from fangkong.lib import sheets
from fangkong.lib.sheets import store
from fangkong.lib.sheets.job import remove_file
from fangkong.lib.identity import IdentityError
from fangkong.lib.workflow import Conflict, Invalid
from fangkong.places.models import Organization, Place

from . import actions
from .models import OnboardingJob, OnboardingRow

BATCH = 100  # rows per transaction: the progress moves every batch

COLUMNS = sheets.Columns(
    {"name": gettext_lazy("Name"), "phone": gettext_lazy("Phone"), "role": gettext_lazy("Role"),
     "code": gettext_lazy("Place or organization code"), "starts_on": gettext_lazy("From"),
     "ends_on": gettext_lazy("Until")},
    {"name": ["姓名", "名字", "name"], "phone": ["手机号", "手机号码", "联系电话", "电话", "phone", "mobile"],
     "role": ["角色", "岗位", "职务", "role"], "code": ["地点编码", "网格编号", "编码", "单位编码", "地点", "code", "place"],
     "starts_on": ["开始日期", "起始日期", "from", "starts_on"], "ends_on": ["结束日期", "截止日期", "until", "ends_on"]},
    ["name", "phone", "role", "code"],
)


def _role_words() -> dict[str, str]:
    """A role as the sheet may write it: its code or its label in any language."""
    from django.utils import translation

    from fangkong.places.access import all_roles, role_label

    words = {}
    for role in all_roles():
        words[role] = role
        for lang in ("zh-hans", "en"):
            with translation.override(lang):
                words[str(role_label(role)).strip().lower()] = role
    words.update({"网格员": "grid_worker", "志愿者": "volunteer", "门岗": "gate_guard", "下沉干部": "volunteer"})
    return words


def start(*, acting_user, place: Place, stored_path: Path, file_name: str, enqueue: bool = True) -> OnboardingJob:
    """Check an uploaded list (SheetError for a file that cannot be read or lacks a required
    column) and queue its onboarding in the background worker."""
    table = sheets.Table.open(stored_path, file_name)
    table.header_row = COLUMNS.find_header_row(table) or 1
    headers = table.sniff()  # a cheap look: the file is read by the worker
    problems = COLUMNS.check_mapping(COLUMNS.auto_mapping(headers), headers)
    if problems:
        raise Invalid({"file": " ".join(str(p) for p in problems)})
    with transaction.atomic():
        job = OnboardingJob.objects.create(created_by=acting_user, place=place, place_path=place.path,
                                           file_name=file_name[:255], stored_path=store.keep(stored_path),
                                           file_format=table.fmt, encoding=table.encoding)
        record(acting_user, "accounts.onboard.upload", obj=job, detail={"file": file_name[:100], "format": table.fmt})
        if enqueue:
            from .tasks import onboard_task

            transaction.on_commit(lambda: onboard_task(job.pk, acting_user.pk))
    return job


def run(job: OnboardingJob, *, acting_user) -> OnboardingJob:
    """Onboard every row of the job's list not yet done (safe to run again after a crash)."""
    if not job.stored_path:  # removed by retention (an abandoned job): nothing left to read
        job.status, job.message = OnboardingJob.Status.FAILED, _("The uploaded file was removed; upload it again.")
        job.save(update_fields=["status", "message", "updated_at"])
        return job
    with store.local_file(job.stored_path) as path:  # a local copy of a file in the imports storage
        return _run(job, path, acting_user=acting_user)


def _run(job: OnboardingJob, path: Path, *, acting_user) -> OnboardingJob:
    table = sheets.Table(path, job.file_format, job.encoding)
    table.header_row = COLUMNS.find_header_row(table) or 1
    headers = table.headers()
    reader = COLUMNS.reader(COLUMNS.auto_mapping(headers), headers)
    if not job.total_rows:
        job.total_rows = table.count_rows()
    job.status = OnboardingJob.Status.RUNNING
    job.save(update_fields=["status", "total_rows", "updated_at"])
    done = set(job.rows.values_list("row", flat=True))
    seen: set[tuple] = set()
    words, batch = _role_words(), []
    try:
        for rec in sheets.records(table, reader):
            if rec.number not in done:
                batch.append(rec)
            if len(batch) >= BATCH:
                _batch(job, batch, acting_user, words, seen)
                batch = []
        _batch(job, batch, acting_user, words, seen)
    except sheets.SheetError as exc:
        job.status, job.message = OnboardingJob.Status.FAILED, str(exc)[:500]
        job.save(update_fields=["status", "message", "updated_at"])
        remove_file(job)  # the list holds personal data: gone when its job ends
        record(acting_user, "accounts.onboard.finish", obj=job, outcome="failed")
        return job
    job.status = OnboardingJob.Status.DONE
    job.save(update_fields=["status", "updated_at"])
    remove_file(job)
    record(acting_user, "accounts.onboard.finish", obj=job, detail={
        "created": job.created_count, "granted": job.granted_count, "skipped": job.skipped_count, "errors": job.error_count})
    return job


@transaction.atomic
def _batch(job: OnboardingJob, batch: list, acting_user, words: dict, seen: set) -> None:
    outcomes = []
    for rec in batch:
        if rec.errors:
            _n, column, reason = rec.errors[0]
            outcomes.append(OnboardingRow(job=job, row=rec.number, outcome="error", column=column, reason=reason))
            continue
        outcomes.append(_row(job, rec, acting_user, words, seen))
    OnboardingRow.objects.bulk_create(outcomes)
    counts = {k: sum(1 for o in outcomes if o.outcome in ks) for k, ks in
              (("created", ("created",)), ("granted", ("created", "granted")), ("skipped", ("held", "duplicate")),
               ("error", ("error",)))}
    job.processed_rows += len(batch)
    job.created_count += counts["created"]
    job.granted_count += counts["granted"]
    job.skipped_count += counts["skipped"]
    job.error_count += counts["error"]
    job.save(update_fields=["processed_rows", "created_count", "granted_count", "skipped_count", "error_count", "updated_at"])


def _row(job, rec, acting_user, words, seen) -> OnboardingRow:
    from fangkong.residents.validation import parse_date

    v, header = rec.values, COLUMNS.labels
    out = OnboardingRow(job=job, row=rec.number)

    def error(field, reason):
        out.outcome, out.column, out.reason = "error", str(header.get(field, field)), str(reason)[:300]
        return out

    role = words.get(v["role"].strip().lower())
    if role is None:
        return error("role", _("Unknown role"))
    code = v["code"].strip()
    target = Place.objects.filter(code=code).first() or Organization.objects.filter(code=code).first()
    if target is None:
        return error("code", _("No place or organization has this code"))
    try:
        phone = actions._clean_phone(v["phone"])
    except Invalid as exc:
        return error("phone", exc.errors["phone"])
    try:
        dates = {k: parse_date(v.get(k)) for k in ("starts_on", "ends_on")}
    except IdentityError as exc:
        return error("starts_on", exc)
    key = (phone, role, code)
    if key in seen:
        out.outcome, out.reason = "duplicate", _("The same person, role and place appear in an earlier row.")
        return out
    seen.add(key)
    try:
        with transaction.atomic():
            profile = actions.account_by_phone(phone)
            if profile is None:
                home = target if isinstance(target, Place) else target.place
                user = actions.create_account(acting_user=acting_user, name=v["name"], phone=phone, place=home)
                out.outcome = "created"
            else:
                user = profile.user
                if actions.holds(user, role, target):
                    out.user, out.outcome, out.reason = user, "held", _("Already holds this role there.")
                    return out
                out.outcome = "granted"
            actions.grant_role(acting_user=acting_user, user=user, role=role, target=target, **dates)
    except PermissionDenied:
        return error("role", _("You may not grant this role there."))
    except Invalid as exc:
        field, message = next(iter(exc.errors.items()))
        return error(field, message)
    except Conflict as exc:
        return error("role", exc)
    except IntegrityError:  # the same phone number onboarded at this moment by another list
        return error("phone", _("This phone number already has an account."))
    out.user = user
    return out


def error_rows(job: OnboardingJob):
    yield [_("Row"), _("Column"), _("Reason")]
    for row in job.rows.exclude(outcome__in=("created", "granted")).iterator(chunk_size=2000):
        yield [row.row, row.column, row.reason]


def sheet_users(job: OnboardingJob):
    """The job's accounts that still need their first sign-in (no password set yet)."""
    from django.contrib.auth import get_user_model

    ids = job.rows.filter(outcome__in=("created", "granted"), user__isnull=False).values("user_id")
    return [u for u in get_user_model().objects.filter(pk__in=ids, is_active=True).order_by("first_name", "pk")
            if not u.has_usable_password()]


def qr_sheet(*, acting_user, job: OnboardingJob) -> bytes:
    """The printable sheet (PDF, A4, 8 cards a page) of one-time sign-in QR codes for the
    job's people who have not signed in yet. Printing issues their links anew (the links
    of an earlier print stop working): no token is stored anywhere but on this paper."""
    from django.conf import settings
    from django.urls import reverse
    from django.utils import timezone, translation

    from fangkong.documents.pdf import DOCUMENT_LANGUAGE, _qr, blank_pdf

    users = sheet_users(job)
    cards = [(u, actions.issue_signin_link(acting_user=acting_user, user=u)) for u in users]
    record(acting_user, "accounts.onboard.sheet", obj=job, detail={"people": len(cards)})
    until = timezone.localtime() + timezone.timedelta(hours=settings.SIGNIN_LINK_HOURS)
    with translation.override(DOCUMENT_LANGUAGE):
        pdf = blank_pdf(_("One-time sign-in codes"))
        pdf.set_auto_page_break(False)
        w, h, qr = 95.0, 68.0, 44.0
        if not cards:
            pdf.add_page()
            pdf.set_font("body", size=12)
            pdf.cell(0, 10, _("Everybody on this list has signed in already."))
        for i, (user, token) in enumerate(cards):
            if i % 8 == 0:
                pdf.add_page()
            x, y = 10 + (i % 2) * w, 8 + (i % 8 // 2) * h
            pdf.set_draw_color(160, 160, 160)
            pdf.rect(x, y, w - 4, h - 4)
            _qr(pdf, settings.PUBLIC_URL + reverse("signin_link", kwargs={"token": token}), x + 2, y + 2, qr, keep=False)
            pdf.set_xy(x + qr + 4, y + 6)
            pdf.set_font("title", size=14)
            pdf.cell(w - qr - 10, 8, user.first_name[:12])
            pdf.set_font("body", size=9)
            for k, (label, value) in enumerate(((_("Username"), user.username),
                                                (_("Valid until"), f"{until:%Y-%m-%d %H:%M}"))):
                pdf.set_xy(x + qr + 4, y + 18 + k * 10)
                pdf.multi_cell(w - qr - 10, 4.5, f"{label}：\n{value}", align="L")  # printed in Chinese: full-width colon
            pdf.set_font("body", size=7.5)
            pdf.set_xy(x + 3, y + qr + 4)
            pdf.multi_cell(w - 10, 4, _("Scan once to set your password. Works once; hand it over in person."), align="L")
        return bytes(pdf.output())
