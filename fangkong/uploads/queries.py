"""Reads of private uploads: an attachment is reachable only through its owner, fetched
within the user's scope with the permission its module registered."""
from __future__ import annotations

from django.http import Http404

from django.utils.translation import gettext as _

from fangkong.lib.workflow import Invalid, int_or_none
from fangkong.places.access import get_in_scope, may

from .models import Attachment
from .owners import owner_key, owner_spec


def owner_for(user, owner_type: str, owner_id, need: str = "view"):
    """The owner record named by type and id, within the user's scope for the owner's
    view (need="view") or attach (need="attach") permission; else 404 (Invalid when the
    type is not an attachable record or the id no number)."""
    spec = owner_spec(owner_type)
    pk = int_or_none(owner_id, maximum=2**63 - 1)
    if spec is None or pk is None:
        raise Invalid({"owner": _("Unknown record: reload the page")})
    return get_in_scope(spec.model._default_manager.all(), user, getattr(spec, f"{need}_perm"), pk=pk)


def attachment_for(user, pk, need: str = "view"):
    """(attachment, owner): unknown attachment and out-of-scope owner are the same 404
    (a removed one too, except for removing it again: a Conflict then)."""
    rows = Attachment.objects.all() if need == "attach" else Attachment.objects.filter(removed_at__isnull=True)
    att = rows.filter(pk=pk).first() if int_or_none(pk, maximum=2**63 - 1) is not None else None
    if att is None:
        raise Http404
    spec = owner_spec(att.owner_type)
    if spec is None:  # its module is switched off: nobody can check its owner
        raise Http404
    return att, get_in_scope(spec.model._default_manager.all(), user, getattr(spec, f"{need}_perm"), pk=att.owner_id)


def of(owner):
    """The attachments of one owner, oldest first."""
    return Attachment.objects.filter(owner_type=owner_key(owner), owner_id=owner.pk, removed_at__isnull=True).order_by(
        "created_at", "pk")


def can_attach(user, owner) -> bool:
    """Whether the user may add or remove files of this owner (already read in scope for viewing)."""
    spec = owner_spec(owner_key(owner))
    return bool(spec and (spec.editable is None or spec.editable(owner)) and may(user, spec.attach_perm, owner))
