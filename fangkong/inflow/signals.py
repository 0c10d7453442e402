"""What the inflow module tells the rest of the platform (fangkong.core.registry): daily
figures for the daily report, and the health flags of persons under a control measure."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.core import registry

from .models import Application, Measure

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


def _under_measure(day: dt.date):
    """Persons whose measure runs on `day` (a stock at the end of the day)."""
    qs = Application.objects.filter(state=Application.State.ARRIVED, measure_start__lte=day, measure_end__gt=day).exclude(measure=Measure.NONE)
    return qs.values_list("place_path").annotate(n=Count("id")).order_by()


for key, field, label, order in (
    ("inflow.applied", "submitted_at", _("Applications"), 10),
    ("inflow.decided", "decided_at", _("Decisions"), 11),
    ("inflow.arrived", "arrived_at", _("Arrivals"), 12),
):
    counts, by_org = _counted(field)
    registry.register_metric(registry.Metric(key=key, label=label, section=SECTION, counts=counts, by_org=by_org, order=order))
registry.register_metric(registry.Metric(key="inflow.under_measure", label=_("Under a control measure"), section=SECTION,
                                         counts=_under_measure, order=13, kind="state"))

_FLAGS = {
    Measure.CENTRAL: {registry.OBSERVATION, registry.CENTRAL_OBSERVATION},
    Measure.HOME: {registry.OBSERVATION},
    Measure.MONITORING: {registry.HEALTH_MONITORING},
}


@registry.register_state_provider
def measure_flags(person_ids: list[int]) -> dict[int, set[str]]:
    today = timezone.localdate()
    out: dict[int, set[str]] = {}
    qs = Application.objects.filter(person_id__in=person_ids, state=Application.State.ARRIVED,
                                    measure_start__lte=today).filter(Q(measure_end__gt=today))
    for pid, measure in qs.values_list("person_id", "measure"):
        out.setdefault(pid, set()).update(_FLAGS.get(measure, set()))
    return out
