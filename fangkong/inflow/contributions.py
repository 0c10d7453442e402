"""What the inflow module tells the rest of the platform (fangkong.lib.registry): daily
figures for the daily report. The measure that starts on arrival is an observation
(fangkong.observation), which reports the persons' health flags."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry

from .models import Application

SECTION = _("Inflow")


def _day_bounds(day: dt.date):
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _counted(field: str):
    def counts(day: dt.date):
        start, end = _day_bounds(day)
        qs = Application.objects.filter(**{f"{field}__gte": start, f"{field}__lt": end})
        return qs.values_list("place_path").annotate(n=Count("id")).order_by()

    def by_org(day: dt.date):
        start, end = _day_bounds(day)
        qs = Application.objects.filter(employer__isnull=False, **{f"{field}__gte": start, f"{field}__lt": end})
        return qs.values_list("employer_id").annotate(n=Count("id")).order_by()

    return counts, by_org


for key, field, label, order in (
    ("inflow.applied", "submitted_at", _("Applications"), 10),
    ("inflow.decided", "decided_at", _("Decisions"), 11),
    ("inflow.arrived", "arrived_at", _("Arrivals"), 12),
):
    counts, by_org = _counted(field)
    registry.register_metric(registry.Metric(key=key, label=label, section=SECTION, counts=counts, by_org=by_org, order=order))
