"""Reads of the inflow loop: turnaround per link and end to end.

Each application's link times come from its timestamps (set by the actions, one per link;
the Event rows hold the same instants): submitted→forwarded (forward), forwarded→decided
(review), decided→travelling (travel), travelling→arrived (arrive), submitted→decided
(answer: the seed's "an answer within the hour") and submitted→arrived (the whole loop).
After "more information asked" and a resubmission, submitted_at stays the first
submission, so the answer time includes the round trip to the unit.

Percentiles are computed in Python over the viewer's scoped rows (a street has a few
thousand applications), by linear interpolation between closest ranks, the definition of
PostgreSQL's percentile_cont: the median of 1, 2, 3, 10 is 2.5, its p90 is 7.9.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import scope
from fangkong.places.models import Organization, Place

from .models import Application

# (key, label, start field, end field)
LINKS = [
    ("forward", _("Submitted → forwarded"), "submitted_at", "forwarded_at"),
    ("review", _("Forwarded → decided"), "forwarded_at", "decided_at"),
    ("travel", _("Decided → travelling"), "decided_at", "travelling_at"),
    ("arrive", _("Travelling → arrived"), "travelling_at", "arrived_at"),
    ("answer", _("Submitted → decided (answer)"), "submitted_at", "decided_at"),
    ("total", _("Submitted → arrived (whole loop)"), "submitted_at", "arrived_at"),
]
_FIELDS = sorted({f for _k, _l, a, b in LINKS for f in (a, b)})


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (percentile_cont); None if empty."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class Stat:
    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass
class Row:
    key: str  # community path, organization id, "" for none, "*" for the total
    label: str
    applications: int = 0
    links: dict[str, Stat] = field(default_factory=dict)

    def cells(self):
        return [(k, self.links[k]) for k, *_rest in LINKS]


def _stats(samples: dict[str, list[float]]) -> dict[str, Stat]:
    out = {}
    for key, *_rest in LINKS:
        xs = samples.get(key, [])
        med, p90 = percentile(xs, 0.5), percentile(xs, 0.9)
        out[key] = Stat(len(xs), None if med is None else round(med, 1), None if p90 is None else round(p90, 1))
    return out


def day_bounds(date_from: dt.date, date_to: dt.date):
    start = timezone.make_aware(dt.datetime.combine(date_from, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min))
    return start, end


def default_range(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    today = today or timezone.localdate()
    return today - dt.timedelta(days=29), today


def turnaround(user, date_from: dt.date, date_to: dt.date) -> dict:
    """Turnaround in minutes (count, median, p90) per link, for the applications submitted
    from date_from to date_to (local days, inclusive) that `user` may view: overall, per
    community (the community above the destination) and per unit (the employer; a
    person's own application without a unit is "no unit")."""
    start, end = day_bounds(date_from, date_to)
    qs = scope(Application.objects.filter(submitted_at__gte=start, submitted_at__lt=end), user, "inflow.view")
    rows = list(qs.values_list("place_path", "employer_id", *_FIELDS))

    communities = {p.path: p.name for p in Place.objects.filter(kind=Place.Kind.COMMUNITY)}
    def community_of(path: str) -> str:
        # A path lists its ancestors' segments: the first prefix that is a community.
        parts = path.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i]) + "/"
            if prefix in communities:
                return prefix
        return ""

    total: dict[str, list[float]] = {}
    by_comm: dict[str, dict[str, list[float]]] = {}
    by_unit: dict[int | None, dict[str, list[float]]] = {}
    n_comm: dict[str, int] = {}
    n_unit: dict[int | None, int] = {}
    for place_path, employer_id, *values in rows:
        stamps = dict(zip(_FIELDS, values))
        comm = community_of(place_path)
        n_comm[comm] = n_comm.get(comm, 0) + 1
        n_unit[employer_id] = n_unit.get(employer_id, 0) + 1
        for key, _label, a, b in LINKS:
            if stamps[a] is None or stamps[b] is None:
                continue
            minutes = (stamps[b] - stamps[a]).total_seconds() / 60
            for bucket in (total, by_comm.setdefault(comm, {}), by_unit.setdefault(employer_id, {})):
                bucket.setdefault(key, []).append(minutes)

    units = dict(Organization.objects.filter(pk__in=[k for k in n_unit if k is not None]).values_list("pk", "name"))
    comm_rows = sorted(
        (Row(path, communities.get(path, str(_("Outside any community"))), n, _stats(by_comm.get(path, {})))
         for path, n in n_comm.items()), key=lambda r: (r.key == "", r.label))
    unit_rows = sorted(
        (Row("" if oid is None else str(oid), units.get(oid, str(_("No unit (personal application)"))), n,
             _stats(by_unit.get(oid, {}))) for oid, n in n_unit.items()), key=lambda r: (r.key == "", r.label))
    return {
        "date_from": date_from, "date_to": date_to, "links": [(k, label) for k, label, *_r in LINKS],
        "total": Row("*", str(_("All")), len(rows), _stats(total)),
        "by_community": comm_rows, "by_unit": unit_rows,
    }
