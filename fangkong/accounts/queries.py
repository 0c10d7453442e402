"""Reads of the staff pages and API: people in scope (searched by name or masked phone)
and who holds what under a place."""
from __future__ import annotations

import re

from django.db.models import Q

from fangkong.lib.crypto import blind_indexes
from fangkong.places.access import scope
from fangkong.places.models import Grant

from .models import StaffProfile


def people(user, q: str = ""):
    """The staff profiles the user may see, filtered by `q`: a whole phone number (exact,
    by its blind index), a masked one (138****5678), its last four digits, or a name."""
    qs = scope(StaffProfile.objects.select_related("user", "home_place"), user, "accounts.view")
    q = (q or "").strip()
    if re.fullmatch(r"1\d{10}", q):
        return qs.filter(phone_bidx__in=blind_indexes("phone", q))
    if re.fullmatch(r"\d{3}\*{4}\d{4}", q):
        return qs.filter(phone_masked=q)
    if re.fullmatch(r"\d{4}", q):
        return qs.filter(phone_masked__endswith=q)
    return qs.filter(user__first_name__icontains=q) if q else qs


def holdings(user, place):
    """The active grants over `place` and every place or organization under it, for a
    user who sees it (the caller fetched `place` within the user's scope)."""
    return (Grant.objects.filter(revoked_at__isnull=True)
            .filter(Q(place__path__under=place.path) | Q(organization__place_path__under=place.path))
            .select_related("user", "place", "organization").order_by("place__path", "role", "user__first_name"))
