"""Reads of the registry, always through the access module."""
from __future__ import annotations

import re

from fangkong.lib import crypto
from fangkong.lib.identity import IdentityError, normalize_id, normalize_phone
from fangkong.places.access import scope

from .models import Household, Person

PAGE_SIZE = 25


def persons(user, perm: str = "residents.view"):
    return scope(Person.objects.select_related("household", "place", "employer"), user, perm)


def person_by_id_number(user, perm: str, id_number: str) -> Person | None:
    """The person with this (normalized) ID number in the user's scope for `perm`, or None:
    a person outside the scope looks exactly like an unregistered one."""
    return persons(user, perm).filter(id_bidx__in=crypto.blind_indexes("id", id_number)).first()


def find_person(user, perm: str, typed: str, *, field: str = "id_number") -> Person:
    """The person whose ID number someone typed (full-width digits and spaces allowed), in the
    user's scope for `perm`: the one lookup by a typed ID of every module. A malformed number
    is an Invalid naming `field`; an unregistered person and one outside the scope get the
    same Invalid, so nobody learns that a number is registered elsewhere."""
    from django.utils.translation import gettext as _

    from fangkong.lib.workflow import Invalid

    try:
        id_number = normalize_id(typed or "")
    except IdentityError as exc:
        raise Invalid({field: str(exc.message)}) from None
    person = person_by_id_number(user, perm, id_number)
    if person is None:
        raise Invalid({field: _("No person with this ID number is registered in your area")})
    return person


def households(user, perm: str = "residents.view"):
    return scope(Household.objects.select_related("place"), user, perm)


def search_persons(user, *, q: str = "", place=None, tag: str = "", perm: str = "residents.view"):
    """Name contains q; or exact ID / phone when q looks like one (via the blind index)."""
    qs = persons(user, perm)
    q = (q or "").strip()
    if q:
        compact = re.sub(r"[\s\-]", "", q)
        if len(compact) == 18 and compact[:17].isdigit():
            try:
                qs = qs.filter(id_bidx__in=crypto.blind_indexes("id", normalize_id(compact)))
            except IdentityError:
                qs = qs.none()
        elif compact.lstrip("+").isdigit() and len(compact) >= 7:
            try:
                qs = qs.filter(phone_bidx__in=crypto.blind_indexes("phone", normalize_phone(compact)))
            except IdentityError:
                qs = qs.none()
        else:
            qs = qs.filter(name__contains=q[:50])
    if place is not None:
        qs = qs.filter(place_path__under=place.path)
    if tag:
        qs = qs.filter(tags__contains=f",{tag},")
    return qs


def export_rows(qs, *, unmasked: bool):
    from django.utils.translation import gettext as _

    yield [_("Name"), _("ID number"), _("Phone"), _("Sex"), _("Birth date"), _("Address"), _("Place"), _("Employer"), _("Tags")]
    for p in qs.iterator(chunk_size=2000):
        yield [
            p.name,
            p.id_number() if unmasked else p.id_masked,
            p.phone() if unmasked else p.phone_masked,
            p.get_sex_display(),
            p.birth_date.isoformat(),
            p.household.address if p.household_id else "",
            p.place.name,
            p.employer.name if p.employer_id else "",
            "、".join(p.tag_labels()),
        ]
