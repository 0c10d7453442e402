"""What the gates module tells the rest of the platform (fangkong.core.registry): daily
figures of the gates for the daily report."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from fangkong.core import registry

from .models import GateEntry
from .queries import day_bounds

SECTION = _("Gates")


def _counts(**filters):
    def counts(day: dt.date):
        start, end = day_bounds(day)
        return (GateEntry.objects.filter(occurred_at__gte=start, occurred_at__lt=end, **filters)
                .values_list("place_path").annotate(n=Count("id")).order_by())

    return counts


registry.register_metric(registry.Metric("gates.entries", _("Gate entries"), SECTION, _counts(), order=60))
registry.register_metric(registry.Metric("gates.refused", _("Turned away at gates"), SECTION, _counts(decision="refused"),
                                         order=61))
registry.register_metric(registry.Metric(
    "gates.fevers", _("Fevers at gates"), SECTION,
    lambda day: _counts(temperature__gte=settings.FEVER_THRESHOLD)(day), order=62))
