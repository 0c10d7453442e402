"""Reads of self-declaration and the credit record, always through the access module."""
from __future__ import annotations

from django.db.models import Case, IntegerField, Value, When

from fangkong.places.access import scope

from .models import Appeal, CreditEntry, Declaration, Finding, Point

D = Declaration.State
QUEUE_STATES = {
    "open": [D.SUBMITTED, D.FOLLOW_UP],
    "verified": [D.VERIFIED],
    "found_false": [D.FOUND_FALSE],
}


def declarations(user, perm: str = "declarations.view"):
    return scope(Declaration.objects.select_related("person", "community"), user, perm)


def queue(user, which: str = "open", unmatched: bool = False):
    """Declarations to verify: risky ones first, then follow-ups, oldest first."""
    qs = declarations(user).filter(state__in=QUEUE_STATES.get(which, QUEUE_STATES["open"]))
    if unmatched:
        qs = qs.filter(person__isnull=True)
    if which == "open":
        return qs.annotate(follow=Case(When(state=D.FOLLOW_UP, then=Value(0)), default=Value(1),
                                       output_field=IntegerField())).order_by("-risk", "follow", "submitted_at", "pk")
    return qs.order_by("-checked_at", "-pk")


def points(user):
    return scope(Point.objects.select_related("place"), user, "declarations.points")


def findings(user, state: str = "", perm: str = "declarations.view"):
    qs = scope(Finding.objects.select_related("person", "recorded_by"), user, perm)
    return qs.filter(state=state) if state else qs


def entries(user, state: str = ""):
    qs = scope(CreditEntry.objects.select_related("person", "recorded_by"), user, "credit.view")
    return qs.filter(state=state) if state else qs


def open_appeals(user, perm: str = "credit.view"):
    return scope(Appeal.objects.select_related("entry", "entry__person"), user, perm).filter(state=Appeal.State.OPEN)


def own_entries(person):
    """A person's own entries with their appeals (the personal-link page)."""
    return CreditEntry.objects.filter(person=person).prefetch_related("appeals").order_by("-created_at", "-pk")
