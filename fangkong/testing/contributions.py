"""What mass testing tells the rest of the platform (fangkong.lib.registry): daily figures,
the health flag of a positive pool's persons while their single results are pending (the
admin's policy says which colour their passes turn: yellow by default), and to-dos."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.places.access import declare_auth_tables, has_perm, scope

from .models import Recall, Registration, Round, Site, Tube

SECTION = _("Mass testing")


def _bounds(day: dt.date):
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _registered(day):
    start, end = _bounds(day)
    return Registration.objects.filter(occurred_at__gte=start, occurred_at__lt=end, conflict=False).values_list(
        "person_path").annotate(n=Count("id")).order_by()


def _tubes(day):
    def query():
        start, end = _bounds(day)
        return list(Tube.objects.filter(Q(sealed_at__gte=start, sealed_at__lt=end) | Q(resulted_at__gte=start, resulted_at__lt=end))
                    .values_list("place_path").annotate(
                        sealed=Count("id", filter=Q(sealed_at__gte=start, sealed_at__lt=end)),
                        results=Count("id", filter=Q(resulted_at__gte=start, resulted_at__lt=end)),
                        positive=Count("id", filter=Q(resulted_at__gte=start, resulted_at__lt=end, result="positive"))).order_by())

    return registry.shared(("testing.tubes", day), query)


def _column(i):
    return lambda day: [(row[0], row[i]) for row in _tubes(day) if row[i]]


registry.register_metric(registry.Metric("testing.registered", _("Persons registered for testing"), SECTION, _registered, order=80))
registry.register_metric(registry.Metric("testing.sealed", _("Tubes sealed"), SECTION, _column(1), order=81))
registry.register_metric(registry.Metric("testing.results", _("Tube results back"), SECTION, _column(2), order=82))
registry.register_metric(registry.Metric("testing.positive", _("Positive tubes"), SECTION, _column(3), order=83))


@registry.register_state_provider
def recall_flags(person_ids: list[int]) -> dict[int, set[str]]:
    from .actions import pending_colour

    ids = list(Recall.objects.filter(person_id__in=person_ids, state=Recall.State.RECALLED).values_list("person_id", flat=True))
    if not ids:
        return {}
    flag = registry.HEALTH_MONITORING if pending_colour() == "yellow" else registry.FEVER
    out = {pid: {flag} for pid in ids}
    for pid in Recall.objects.filter(person_id__in=person_ids, state=Recall.State.POSITIVE).values_list("person_id", flat=True):
        out.setdefault(pid, set()).add(registry.FEVER)
    return out


def todos(user):
    from django.urls import reverse

    if has_perm(user, "testing.recall"):
        yield from registry.count_todo(scope(Recall.objects.filter(state=Recall.State.RECALLED), user, "testing.recall"),
                                       key="testing.recall", label=_("Persons recalled for a single test"),
                                       url=reverse("testing_home"), rank=registry.RANK_HEALTH + 8)


registry.register_todo(todos)


def _retention(now, *, health_days, link_days, dry_run=False):
    """PostgreSQL: DETACH the registration partitions of the months (of the rounds'
    creation) wholly older than FANGKONG_TESTING_DETACH_MONTHS (0, the default: never);
    their rows stay in plain tables for a DBA to archive. Nothing on SQLite."""
    from django.conf import settings

    from .maintenance import detach_old

    return {"partitions_detached": len(detach_old(now, settings.TESTING_DETACH_MONTHS, dry_run=dry_run))}


registry.register_retention(registry.RetentionRule(key="testing.partitions", label=_("Testing registration partitions"),
                                                   run=_retention))


# A registration keeps its site, the site's round and its area under the auth version
# (api._site): any write to a site or a round changes the version, so a round closed or a
# site moved counts from the next request. Both tables change rarely (set-up and a
# round's transitions), never per registration.
declare_auth_tables(lambda: [Site._meta.db_table, Round._meta.db_table])
