"""JSON API of the documents app. The public verification lives on the page /v/<code>/
only: every API operation here needs a signed-in user (see tests/test_access_matrix.py)."""
from __future__ import annotations

import datetime as dt

from django.urls import reverse
from ninja import Router, Schema

from fangkong.audit.actions import record
from fangkong.places.access import api_perm, get_in_scope

from .models import Document

router = Router(tags=["documents"])


class DocumentOut(Schema):
    id: int
    kind: str
    serial: str
    title: str
    body: str
    fields: list[list[str]]
    holder: str
    issuer: str
    issued_at: dt.datetime
    valid: bool
    revoked_at: dt.datetime | None
    subject_type: str
    subject_id: int
    sha256: str
    verify_url: str
    pdf_url: str

    @staticmethod
    def resolve_pdf_url(obj):
        return reverse("document_pdf", kwargs={"pk": obj.pk})


@router.get("/documents/{pk}", response=DocumentOut, summary="One document (masked content, validity, links)",
            auth=api_perm("documents.view", obj=Document))
def get_document(request, pk: int):
    doc = get_in_scope(Document.objects.all(), request.user, "documents.view", pk=pk)
    record(request.user, "documents.view", obj=doc, detail={"serial": doc.serial, "api": True})
    return doc
