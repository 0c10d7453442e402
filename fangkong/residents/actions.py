"""Writes to the resident registry. Views, API, CLI and tasks all call these."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from fangkong.audit.actions import record
from fangkong.lib import crypto
from fangkong.lib.identity import mask_id, mask_phone

from .models import Household, Person


class DuplicatePerson(Exception):
    """The ID number is already registered. `existing` is the person when the acting user
    may see them (a pointer to follow), else None (the number is registered elsewhere)."""

    def __init__(self, existing: Person | None):
        super().__init__("duplicate id number")
        self.existing = existing


def _find_visible_duplicate(acting_user, bidx: str | list[str]) -> Person | None:
    from fangkong.places.access import scope

    bidxs = [bidx] if isinstance(bidx, str) else bidx
    return scope(Person.objects.filter(id_bidx__in=bidxs), acting_user, "residents.view").first()


def id_fields(id_number: str) -> dict:
    return {
        "id_enc": crypto.encrypt(id_number),
        "id_bidx": crypto.blind_index("id", id_number),
        "id_masked": mask_id(id_number),
    }


def phone_fields(phone: str) -> dict:
    return {
        "phone_enc": crypto.encrypt(phone) if phone else None,
        "phone_bidx": crypto.blind_index("phone", phone) if phone else "",
        "phone_masked": mask_phone(phone),
    }


def encrypted_fields(id_number: str, phone: str) -> dict:
    return {**id_fields(id_number), **phone_fields(phone)}


@transaction.atomic
def create_household(*, acting_user, place, address: str, tenure: str = "owned") -> Household:
    household = Household.objects.create(place=place, place_path=place.path, address=address.strip(), tenure=tenure)
    record(acting_user, "household.create", obj=household)
    return household


@transaction.atomic
def update_household(*, acting_user, household: Household, place, address: str, tenure: str) -> Household:
    """Change a household; its members move with it when its place changes."""
    household = Household.objects.select_for_update().get(pk=household.pk)
    changed = [f for f, v in (("place", place), ("address", address.strip()), ("tenure", tenure)) if getattr(household, f) != v]
    if not changed:
        return household
    household.place, household.place_path = place, place.path
    household.address, household.tenure = address.strip(), tenure
    household.save()
    if "place" in changed:
        household.members.update(place=place, place_path=place.path)
    record(acting_user, "household.update", obj=household, detail={"fields": changed})
    return household


def create_person(*, acting_user, clean: dict, place=None, household: Household | None = None, employer=None) -> Person:
    """Create a person from validated fields (residents.validation.validate_person)."""
    place = household.place if household is not None else place
    if place is None:
        raise ValueError("a person needs a household or a place")
    bidx = crypto.blind_indexes("id", clean["id_number"])  # every configured index key (key rotation)
    if Person.objects.filter(id_bidx__in=bidx).exists():
        raise DuplicatePerson(_find_visible_duplicate(acting_user, bidx))
    try:
        with transaction.atomic():
            person = Person.objects.create(
                household=household,
                place=place,
                place_path=place.path,
                name=clean["name"],
                sex=clean["sex"],
                birth_date=clean["birth_date"],
                employer=employer,
                tags="," + ",".join(clean.get("tags") or []) + "," if clean.get("tags") else "",
                note=clean.get("note", ""),
                **encrypted_fields(clean["id_number"], clean.get("phone", "")),
            )
            record(acting_user, "person.create", obj=person, detail={"id": person.id_masked})
    except IntegrityError:
        # Lost a race with a concurrent insert of the same ID: the unique index decided.
        raise DuplicatePerson(_find_visible_duplicate(acting_user, bidx)) from None
    return person


def update_person(*, acting_user, person: Person, clean: dict, household=..., employer=...) -> Person:
    """Apply validated (possibly partial) fields; records which fields changed."""
    changed = []
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        if "id_number" in clean:
            bidx = crypto.blind_indexes("id", clean["id_number"])
            if person.id_bidx not in bidx:
                if Person.objects.filter(id_bidx__in=bidx).exclude(pk=person.pk).exists():
                    raise DuplicatePerson(_find_visible_duplicate(acting_user, bidx))
                for key, value in id_fields(clean["id_number"]).items():
                    setattr(person, key, value)
                changed.append("id_number")
        if "phone" in clean:
            phone = clean["phone"]
            bidx = crypto.blind_indexes("phone", phone) if phone else [""]
            if person.phone_bidx not in bidx:
                for key, value in phone_fields(phone).items():
                    setattr(person, key, value)
                changed.append("phone")
        for field in ("name", "sex", "birth_date", "note"):
            if field in clean and getattr(person, field) != clean[field]:
                setattr(person, field, clean[field])
                changed.append(field)
        if "tags" in clean:
            tags = "," + ",".join(clean["tags"]) + "," if clean["tags"] else ""
            if tags != person.tags:
                person.tags = tags
                changed.append("tags")
        if household is not ... and household != person.household:
            person.household = household
            if household is not None:
                person.place, person.place_path = household.place, household.place_path
            changed.append("household")
        if employer is not ... and employer != person.employer:
            person.employer = employer
            changed.append("employer")
        if changed:
            person.version += 1
            try:
                with transaction.atomic():
                    person.save()
            except IntegrityError:
                raise DuplicatePerson(_find_visible_duplicate(acting_user, person.id_bidx)) from None
            record(acting_user, "person.update", obj=person, detail={"fields": changed})
    return person


@transaction.atomic
def unmask_person(*, acting_user, person: Person, reason: str = "") -> dict:
    """Reveal the full ID and phone. Permission is checked by the caller through access;
    every reveal is an audit event (without the revealed values)."""
    record(acting_user, "person.unmask", obj=person, detail={"reason": reason[:200]})
    return {"id_number": person.id_number(), "phone": person.phone()}
