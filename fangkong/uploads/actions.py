"""The writes of private uploads (DESIGN.md §3): attach a file to a record, detach it, detach
all files of a record that is being deleted, and sweep what deleted owners left behind.
The callers (views, API, the owning modules) have fetched the owner within the user's
scope for the owner's attach permission (queries.owner_for)."""
from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.audit.actions import record
from fangkong.lib.workflow import Conflict, Invalid

from . import files
from .models import Attachment, private_storage, remove_files
from .owners import owner_key, owner_spec, owners

__all__ = ["attach", "detach", "detach_all", "sweep_orphans", "Conflict", "Invalid"]


def _spec(owner):
    spec = owner_spec(owner_key(owner))
    if spec is None:
        raise ValueError(f"{owner_key(owner)} is not registered as an attachment owner (uploads.register_owner)")
    return spec


def _check_editable(spec, owner):
    if spec.editable is not None and not spec.editable(owner):
        raise Conflict(_("Files of this record can no longer be changed"))


def _scope_of(owner) -> dict:
    model = type(owner)
    path_field, org_field = getattr(model, "SCOPE_PATH", None), getattr(model, "SCOPE_ORG", None)
    return {"place_path": getattr(owner, path_field, "") or "" if path_field else "",
            "org_id": getattr(owner, org_field, None) if org_field else None}


def attach(*, acting_user, owner, file, kind: str = Attachment.Kind.PHOTO) -> Attachment:
    """Store `file` (an UploadedFile or any file object with a name) as a photo or document
    of `owner`. Bad file: Invalid({"file": reason}), nothing stored."""
    spec = _spec(owner)
    if kind not in Attachment.Kind.values:
        raise Invalid({"kind": _("Choose photo or document")})
    if file is None:
        raise Invalid({"file": _("Choose a file")})
    _check_editable(spec, owner)
    try:
        clean = files.clean(files.read(file, settings.UPLOAD_MAX_BYTES), kind)
    except files.Rejected as exc:
        raise Invalid({"file": str(exc)}) from None
    storage = private_storage()
    token = secrets.token_hex(16)
    stored = [storage.save(f"{token[:2]}/{token}.{clean.ext}", ContentFile(clean.data))]
    try:
        if clean.thumb is not None:
            stored.append(storage.save(f"{token[:2]}/{token}-t.{clean.ext}", ContentFile(clean.thumb)))
        with transaction.atomic():
            att = Attachment.objects.create(
                owner_type=spec.key, owner_id=owner.pk, kind=kind, name=files.clean_name(getattr(file, "name", ""), clean.ext),
                content_type=clean.content_type, size=len(clean.data), width=clean.width, height=clean.height,
                storage_name=stored[0], thumb_name=stored[1] if len(stored) > 1 else "", sha256=clean.sha256,
                uploaded_by=acting_user if getattr(acting_user, "is_authenticated", False) else None, **_scope_of(owner))
            record(acting_user, "uploads.attach", obj=att, detail={
                "owner": spec.key, "owner_id": owner.pk, "kind": kind, "size": att.size, "sha256": att.sha256})
    except BaseException:
        remove_files(stored)
        raise
    return att


def detach(*, acting_user, attachment: Attachment, owner) -> None:
    """Remove one file of `owner`: its files are deleted when the transaction commits, its
    row stays marked removed (what was there, by whom; a second removal is a Conflict)."""
    spec = _spec(owner)
    if attachment.owner_type != spec.key or attachment.owner_id != owner.pk:
        raise ValueError("attachment does not belong to this owner")
    _check_editable(spec, owner)
    with transaction.atomic():
        if not Attachment.objects.filter(pk=attachment.pk, removed_at__isnull=True).update(removed_at=timezone.now()):
            raise Conflict(_("The file was already removed"))
        record(acting_user, "uploads.detach", obj=attachment, detail={
            "owner": spec.key, "owner_id": owner.pk, "sha256": attachment.sha256})
        names = attachment.files()
        transaction.on_commit(lambda: remove_files(names))


def detach_all(*, acting_user, owner) -> int:
    """Every file of `owner`: call it in the action that deletes the owner (same transaction)."""
    key = owner_key(owner)
    with transaction.atomic():
        n, _per_model = Attachment.objects.filter(owner_type=key, owner_id=owner.pk).delete()
        if n:
            record(acting_user, "uploads.detach_all", detail={"owner": key, "owner_id": owner.pk, "files": n},
                   place_path=_scope_of(owner)["place_path"])
    return n


def sweep_orphans(*, acting_user=None, older_than: dt.timedelta = dt.timedelta(days=1)) -> dict:
    """Attachments whose owner no longer exists (deleted in bulk or by SQL), and stored files
    without a row that are older than `older_than` (an upload whose transaction rolled back):
    both removed. Returns the counts."""
    rows = 0
    for spec in owners():
        gone = Attachment.objects.filter(owner_type=spec.key).exclude(
            owner_id__in=Subquery(spec.model._default_manager.values("pk")))
        with transaction.atomic():
            n, _per_model = gone.delete()
        rows += n
    stray = _stray_files(older_than)
    remove_files(stray)
    if rows or stray:
        record(acting_user, "uploads.sweep", detail={"attachments": rows, "files": len(stray)})
    return {"attachments": rows, "files": len(stray)}


def _stray_files(older_than: dt.timedelta) -> list[str]:
    storage = private_storage()
    cutoff = timezone.now() - older_than
    try:
        dirs, _files = storage.listdir("")
    except FileNotFoundError:
        return []
    found = []
    live = Attachment.objects.filter(removed_at__isnull=True)
    for d in dirs:
        names = [f"{d}/{n}" for n in storage.listdir(d)[1]]
        known = set(live.filter(storage_name__in=names).values_list("storage_name", flat=True))
        known |= set(live.filter(thumb_name__in=names).values_list("thumb_name", flat=True))
        found += [n for n in names if n not in known and storage.get_modified_time(n) < cutoff]
    return found
