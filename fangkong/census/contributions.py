"""What the census tells the rest of the platform (fangkong.lib.registry): the daily
figures, counted per place path (the household's place) per local day."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import has_perm

from .models import FollowUp, Visit

SECTION = _("Census")


def _day_bounds(day: dt.date):
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _visits(day: dt.date):
    start, end = _day_bounds(day)
    return Visit.objects.filter(visited_at__gte=start, visited_at__lt=end)


def household_visits(day: dt.date):
    """户次: every visit of the day, whatever its outcome (a second visit counts again)."""
    return _visits(day).values_list("place_path").annotate(n=Count("id")).order_by()


def person_visits(day: dt.date):
    """人次: the members who answered in the day's visits."""
    return [(p, n) for p, n in _visits(day).filter(persons__gt=0).values_list("place_path").annotate(
        n=Sum("persons")).order_by() if n]


def followups(day: dt.date):
    start, end = _day_bounds(day)
    return FollowUp.objects.filter(created_at__gte=start, created_at__lt=end).values_list("place_path").annotate(
        n=Count("id")).order_by()


for key, label, fn, order in (
    ("census.household_visits", _("Household-visits"), household_visits, 30),
    ("census.person_visits", _("Person-visits"), person_visits, 31),
    ("census.followups", _("Census follow-ups"), followups, 32),
):
    registry.register_metric(registry.Metric(key=key, label=label, section=SECTION, counts=fn, order=order, kind="day"))


# --- To-dos: follow-ups still open, and per running campaign the households of the user's
# part of its area not yet reached (one COUNT per running campaign: there are few at a time).
def todos(user):
    from django.urls import reverse

    from . import queries
    from .models import Campaign

    if not has_perm(user, "census.visit"):
        return
    yield from registry.count_todo(queries.followups(user, FollowUp.State.OPEN, "census.visit"), key="census.followups",
                                   label=_("Census follow-ups open"), url=reverse("census_followups"),
                                   rank=registry.RANK_QUEUE - 5)
    today = timezone.localdate()
    for campaign in queries.campaigns(user, "census.visit").filter(state=Campaign.State.RUNNING).order_by("end_date", "pk"):
        n = queries.pending(user, "census.visit", campaign).count()
        if n:
            due = timezone.make_aware(dt.datetime.combine(campaign.end_date + dt.timedelta(days=1), dt.time.min))
            yield registry.Todo(key=f"census.pending.{campaign.pk}", count=n, url=reverse("census_pending", args=[campaign.pk]),
                                label=_("Households not yet visited: %(campaign)s") % {"campaign": campaign.name},
                                due=due, overdue=campaign.end_date < today, rank=registry.RANK_ROUND)


registry.register_todo(todos)
