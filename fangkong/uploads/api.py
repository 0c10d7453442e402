"""JSON API of private uploads: the same actions and checks as the pages.

    POST   /api/uploads                          multipart: owner_type, owner_id, kind, file
    GET    /api/uploads?owner_type=&owner_id=    the owner's attachments
    GET    /api/uploads/{pk}                     the file (?thumb=1: its thumbnail)
    DELETE /api/uploads/{pk}                     remove it
"""
from __future__ import annotations

import datetime as dt

from django.urls import reverse
from ninja import File, Form, Router, Schema, Status, UploadedFile

from fangkong.places.access import api_perm

from . import actions, queries, views
from .models import Attachment

router = Router(tags=["uploads"])


class AttachmentOut(Schema):
    id: int
    owner_type: str
    owner_id: int
    kind: str
    name: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    sha256: str
    created_at: dt.datetime
    url: str
    thumb_url: str | None

    @staticmethod
    def resolve_url(obj):
        return reverse("uploads_file", args=[obj.pk])

    @staticmethod
    def resolve_thumb_url(obj):
        return reverse("uploads_file", args=[obj.pk]) + "?thumb=1" if obj.thumb_name else None


def _owner(request, owner_type, owner_id, need):
    return queries.owner_for(request.user, owner_type, owner_id, need)  # Invalid: a 422 (fangkong/api.py)


@router.post("/uploads", response={201: AttachmentOut}, auth=api_perm("uploads.attach"),
             summary="Attach a photo (JPEG/PNG/WebP, re-encoded) or a PDF to a record you may change")
def upload(request, owner_type: Form[str], owner_id: Form[int], file: File[UploadedFile], kind: Form[str] = "photo"):
    owner = _owner(request, owner_type, owner_id, "attach")
    return Status(201, actions.attach(acting_user=request.user, owner=owner, file=file, kind=kind))


@router.get("/uploads", response=list[AttachmentOut], auth=api_perm("uploads.view"),
            summary="The attachments of one record")
def attachments(request, owner_type: str, owner_id: int):
    return list(queries.of(_owner(request, owner_type, owner_id, "view")))


@router.get("/uploads/{pk}", auth=api_perm("uploads.view", obj=Attachment),
            summary="The file itself (?thumb=1: the thumbnail of a photo)")
def download(request, pk: int):
    return views.serve_attachment(request, pk)


@router.delete("/uploads/{pk}", response={204: None}, auth=api_perm("uploads.attach", obj=Attachment),
               summary="Remove a file from a record you may change")
def remove(request, pk: int):
    att, owner = queries.attachment_for(request.user, pk, "attach")
    actions.detach(acting_user=request.user, attachment=att, owner=owner)
    return Status(204, None)
