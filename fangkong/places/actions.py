"""Writes to the jurisdiction tree."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from fangkong.audit.actions import record

from .models import Organization, Place, segment


@transaction.atomic
def create_place(*, acting_user, kind: str, name: str, code: str, parent: Place | None, audit: bool = True) -> Place:
    if parent is None and kind not in ("district", "street"):
        raise ValidationError({"parent": "only a district or street may be a root"})
    if parent is not None and Place.ORDER.index(kind) <= Place.ORDER.index(parent.kind):
        raise ValidationError({"kind": f"a {kind} cannot be placed under a {parent.kind}"})
    place = Place.objects.create(kind=kind, name=name, code=code, parent=parent, path="", depth=0)
    place.path = (parent.path if parent else "") + segment(place.pk)
    place.depth = parent.depth + 1 if parent else 0
    place.save(update_fields=["path", "depth"])
    if audit:
        record(acting_user, "place.create", obj=place)
    return place


@transaction.atomic
def create_organization(*, acting_user, kind: str, name: str, code: str, place: Place, audit: bool = True) -> Organization:
    org = Organization.objects.create(kind=kind, name=name, code=code, place=place, place_path=place.path)
    if audit:
        record(acting_user, "organization.create", obj=org)
    return org
