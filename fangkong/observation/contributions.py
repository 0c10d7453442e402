"""What the observation module tells the rest of the platform (fangkong.lib.registry):
daily figures for the daily report and the health flags of persons."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import has_perm, scope

from .models import Alert, Observation, Report

SECTION = _("Observation")
S = Observation.State


def _day_bounds(day: dt.date):
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _by_path(qs):
    return qs.values_list("place_path").annotate(n=Count("id")).order_by()


def _measures(day: dt.date) -> list[tuple[str, int, int, int]]:
    """(place path, active, new, released) of the day: one query for the three metrics
    (shared within one read of the figures, lib.registry.shared).

    active: under a measure at the end of `day` (a stock); new: started that day; released:
    released that day."""
    def query():
        start, end = _day_bounds(day)
        active = Q(start_date__lte=day, created_at__lt=end) & (Q(ended_at__isnull=True) | Q(ended_at__gte=end))
        new = Q(start_date=day)
        released = Q(state=S.RELEASED, ended_at__gte=start, ended_at__lt=end)
        return list(Observation.objects.filter(active | new | released).values_list("place_path").annotate(
            # place_path, not id: every counted column is in the index observation_daily
            active=Count("place_path", filter=active), new=Count("place_path", filter=new),
            released=Count("place_path", filter=released)
        ).order_by())

    return registry.shared(("observation.measures", day), query)


def _column(i: int):
    def counts(day: dt.date):
        return [(row[0], row[i]) for row in _measures(day) if row[i]]

    return counts


_active, _new, _released = _column(1), _column(2), _column(3)


def _alerts(kind: str):
    def counts(day: dt.date):
        qs = Alert.objects.filter(kind=kind, day=day)
        return qs.values_list("observation__place_path").annotate(n=Count("id")).order_by()

    return counts


def _reports(day: dt.date):
    # observation_id, not id: read from the index observation_report_day alone
    return Report.objects.filter(day=day).values_list("observation__place_path").annotate(
        n=Count("observation_id")).order_by()


for key, label, fn, order, kind in (
    ("observation.active", _("Under observation"), _active, 20, "state"),
    ("observation.new", _("Observations started"), _new, 21, "day"),
    ("observation.released", _("Released"), _released, 22, "day"),
    ("observation.reports", _("Temperature reports"), _reports, 23, "day"),
    ("observation.fevers", _("Fever alerts"), _alerts(Alert.Kind.FEVER), 24, "day"),
    ("observation.missed", _("Missed reports"), _alerts(Alert.Kind.MISSED), 25, "day"),
):
    registry.register_metric(registry.Metric(key=key, label=label, section=SECTION, counts=fn, order=order, kind=kind))


@registry.register_state_provider
def observation_flags(person_ids: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    recent = timezone.now() - dt.timedelta(days=14)
    qs = Observation.objects.filter(person_id__in=person_ids).filter(
        Q(state__in=[S.ACTIVE, S.HOSPITAL]) | Q(state=S.RELEASED, ended_at__gte=recent))
    for pid, kind, state in qs.values_list("person_id", "kind", "state"):
        flags = out.setdefault(pid, set())
        if state == S.HOSPITAL:
            flags.add(registry.HOSPITAL)
        elif state == S.RELEASED:
            flags.add(registry.RELEASED)
        elif kind == Observation.Kind.MONITORING:
            flags.add(registry.HEALTH_MONITORING)
        else:
            flags.add(registry.OBSERVATION)
            if kind == Observation.Kind.CENTRAL:
                flags.add(registry.CENTRAL_OBSERVATION)
    fevers = Alert.objects.filter(observation__person_id__in=person_ids, handled_at__isnull=True,
                                  kind__in=[Alert.Kind.FEVER, Alert.Kind.SYMPTOMS], observation__state=S.ACTIVE)
    for pid in fevers.values_list("observation__person_id", flat=True):
        out.setdefault(pid, set()).add(registry.FEVER)
    return out


# --- To-dos: open fever/symptom alerts first, then missed windows, the reports still missing
# in the window open now (due when it closes), supplies to bring, releases due.
def todos(user):
    from django.urls import reverse

    from . import actions
    from .models import SupplyRequest

    board = reverse("observation_board")
    if has_perm(user, "observation.handle"):
        mine = scope(Observation.objects.all(), user, "observation.handle")
        alerts = Alert.objects.filter(handled_at__isnull=True, observation__in=mine)
        yield from registry.count_todo(alerts.filter(kind__in=[Alert.Kind.FEVER, Alert.Kind.SYMPTOMS]),
                                       key="observation.fever", label=_("Fever or symptom alerts to handle"),
                                       url=board + "?state=attention", rank=registry.RANK_HEALTH)
        yield from registry.count_todo(alerts.filter(kind=Alert.Kind.MISSED), key="observation.missed",
                                       label=_("Missed temperature reports to follow up"), url=board + "?state=attention",
                                       rank=registry.RANK_HEALTH + 10)
        yield from registry.count_todo(SupplyRequest.objects.filter(state=SupplyRequest.State.OPEN, observation__in=mine),
                                       key="observation.supplies", label=_("Supplies or medicine to bring"), url=board)
    window = actions.window_at(timezone.now())
    if window is not None and has_perm(user, "observation.report"):
        missing = actions.unreported(*window, scope(Observation.objects.all(), user, "observation.report")).count()
        if missing:
            yield registry.Todo(key="observation.reports", label=_("Temperature reports still missing in this window"),
                                count=missing, url=board, due=actions.window_closes(*window), rank=registry.RANK_DEADLINE)
    if has_perm(user, "observation.release"):
        yield from registry.count_todo(
            scope(Observation.objects.filter(state=S.ACTIVE, planned_end__lte=timezone.localdate()), user, "observation.release"),
            key="observation.release", label=_("Observation periods ended: decide the release"), url=board,
            rank=registry.RANK_DEADLINE)


registry.register_todo(todos)


# --- Retention: a released observation's health details, then its link to the person
# (retention.py).
def _retention(now, **days):
    from . import retention

    return retention.run(now, **days)


registry.register_retention(registry.RetentionRule(key="observation", label=SECTION, run=_retention))


# On PostgreSQL: DETACH the temperature reports' monthly partitions older than
# FANGKONG_OBSERVATION_REPORT_DETACH_MONTHS (0, the default: never); the reports stay, in a
# plain table for a DBA to archive, and leave the pages and daily figures. SQLite: nothing.
def _detach_partitions(now, *, health_days, link_days, dry_run=False):
    from .maintenance import detach_old

    return {"partitions_detached": len(detach_old(now, settings.OBSERVATION_REPORT_DETACH_MONTHS, dry_run=dry_run))}


registry.register_retention(registry.RetentionRule(key="observation.partitions", label=_("Temperature report partitions"),
                                                   run=_detach_partitions))


# --- A person's page: their control measures, and starting one without typing the ID ----

@registry.register_person_section
def person_measures(user, person):
    from django.urls import reverse

    from fangkong.places.access import may

    if not has_perm(user, "observation.view"):
        return None
    measures = scope(Observation.objects.filter(person=person), user, "observation.view").order_by("-start_date", "-id")[:10]
    items = tuple(registry.PersonItem(
        text=f"{o.get_kind_display()} · {o.get_state_display()} · {o.start_date:%Y-%m-%d}–{o.planned_end:%Y-%m-%d}",
        url=reverse("observation_detail", args=[o.pk])) for o in measures)
    actions = ()
    if may(user, "observation.start", person):
        actions = (registry.PersonAction(label=_("Start an observation"), url=reverse("observation_start_person", args=[person.pk]),
                                         key="start-observation"),)
    return registry.PersonSection(key="measures", title=_("Control measures"), items=items, actions=actions, order=30)
