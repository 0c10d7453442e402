"""Writes of the documents app, as named actions (keyword-only, acting_user, one
transaction, an audit event). Views, API and other apps call only these.

    issue(...)   -> Document   idempotent per (kind, subject): the valid one is returned
    revoke(...)  -> Document   marks it revoked; the verify page then says so
    render_pdf(document) -> bytes   (fangkong.documents.pdf)
"""
from __future__ import annotations

import secrets
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.audit.actions import record
from fangkong.lib.identity import mask_name, mask_numbers  # noqa: F401  (actions.mask_name for callers)
from fangkong.lib.workflow import Conflict, Invalid  # noqa: F401  (actions.Conflict etc. for callers)

from .models import Document
from .pdf import render_pdf  # noqa: F401  (re-exported: documents.actions.render_pdf)

SERIAL_PREFIX = "TZ"  # 通知
CODE_BYTES = 24  # 192 random bits in the QR code's URL (32 URL-safe characters)

# Values printed on a document are masked by the caller; refuse anything that looks like a
# full national ID or mobile number, so a mistake cannot put one on paper and in the QR page.




def subject_key(subject) -> tuple[str, int]:
    return f"{subject._meta.app_label}.{subject._meta.model_name}", int(subject.pk)


def valid_document(kind: str, subject) -> Document | None:
    subject_type, subject_id = subject_key(subject)
    return Document.objects.filter(kind=kind, subject_type=subject_type, subject_id=subject_id,
                                   revoked_at__isnull=True).first()


def _serial(now, pk: int) -> str:
    return f"{SERIAL_PREFIX}{timezone.localdate(now):%Y%m%d}-{pk:06d}"


def issue(*, acting_user, kind: str, subject, title: str, fields, issuer: str, body: str = "", place_path: str | None = None,
          org_id: int | None = None, holder: str = "", number: str = "") -> Document:
    """Issue a document of `kind` about `subject` (any saved model instance).

    `fields` is the printed table, [(label, value), ...], values already masked; `holder`
    the masked name shown on the public verify page; `number` the issuer's own number
    (发文字号, e.g. 〔2020〕3号), printed as the document's serial at the top. Place path and organization default
    to the subject's SCOPE_PATH / SCOPE_ORG, so the document is scoped like its subject.
    Issuing again while a valid document exists returns that one (also under concurrency:
    a partial unique index admits one valid document per kind and subject)."""
    if kind not in Document.Kind.values:
        raise ValueError(f"unknown document kind {kind!r}")
    # Only masked numbers go on paper, whatever the caller passed (a phone typed into an
    # address, say): masked here rather than refused, so an approval never fails on it.
    fields = [[str(label), mask_numbers(str(value))] for label, value in fields]
    title, body, issuer, holder = (mask_numbers(str(t)) for t in (title, body, issuer, holder))
    subject_type, subject_id = subject_key(subject)
    if place_path is None:
        path_field = getattr(type(subject), "SCOPE_PATH", None)
        place_path = getattr(subject, path_field) if path_field else ""
    if org_id is None:
        org_field = getattr(type(subject), "SCOPE_ORG", None)
        org_id = getattr(subject, org_field, None) if org_field and org_field != "id" else None
    with transaction.atomic():
        existing = valid_document(kind, subject)
        if existing is not None:
            return existing
        now = timezone.now()
        try:
            with transaction.atomic():
                doc = Document.objects.create(
                    kind=kind, serial=uuid.uuid4().hex[:32], code=secrets.token_urlsafe(CODE_BYTES), title=title[:100],
                    body=body, fields=fields, holder=holder[:50], issuer=issuer[:120], issued_at=now, number=number[:40],
                    issued_by=acting_user if acting_user is not None and acting_user.is_authenticated else None,
                    place_path=place_path or "", org_id=org_id, subject_type=subject_type, subject_id=subject_id,
                )
        except IntegrityError:
            # Another transaction issued it first (and has committed: the unique index waited).
            existing = valid_document(kind, subject)
            if existing is None:
                raise
            return existing
        # The serial comes from the primary key: unique without a counter row to contend on.
        doc.serial = _serial(now, doc.pk)
        doc.sha256 = doc.compute_sha256()
        Document.objects.filter(pk=doc.pk).update(serial=doc.serial, sha256=doc.sha256)
        record(acting_user, "documents.issue", obj=doc, detail={"serial": doc.serial, "kind": kind, "subject": f"{subject_type}:{subject_id}",
                                                                **({"number": doc.number} if doc.number else {})})
    return doc


def revoke(*, acting_user, document: Document, reason: str) -> Document:
    """Revoke a valid document; its verify page says revoked from now on. A reason is required."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid({"reason": _("Give the reason")})
    with transaction.atomic():
        now = timezone.now()
        if not Document.objects.filter(pk=document.pk, revoked_at__isnull=True).update(
                revoked_at=now, revoked_by=acting_user if acting_user is not None and acting_user.is_authenticated else None,
                revoke_reason=reason[:300]):
            raise Conflict(_("This document has already been revoked"))
        document.refresh_from_db()
        record(acting_user, "documents.revoke", obj=document, detail={"serial": document.serial, "reason": reason[:200]})
    return document
