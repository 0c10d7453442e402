"""Daily figures (M8) added up the place tree.

Every module registers its metrics in fangkong.lib.registry; a metric answers, for one
local day, (place path, count) pairs where a place path is the materialized path of the
place the counted thing happened at (a grid, compound or building, or a community). The
count for a place is the sum over the pairs whose path lies under the place's path, so the
totals of a parent are the sum of its children's by construction (for the part of the tree
that the children cover).

This is the one read of the figures: the daily report, its exports and the dashboard call
`place_figures`; nobody else calls the metric providers. It takes no user: callers scope
the *places* they ask for (places.access) and only ever get counts, never rows.

A *closed* day (reports.models.ClosedDay, see reports.actions.close_day) answers from the
snapshot taken when it was closed, not from the data now: the report of a closed day is
kept as it was. A metric registered after the day was closed has no figure for that day
(it counts 0). What changed since shows beside it (reports.queries), never in it.

* `day_counts(day, keys)` — each metric's (path, count) pairs: the snapshot of a closed
  day, else `live_counts(day)`.
* `place_figures(day, places, keys)` — {place id: {key: count}} for one day.
* `place_series(days, places, keys)` — {day: place_figures(day, ...)} for several days
  (the metrics are read once per day; closed days from their snapshots).
* `org_figures(day, org_ids, keys)` — {org id: {key: count}} of the metrics that count per
  organization (Metric.by_org), snapshot or live like the rest.
* `live_counts(day, keys)`, `live_by_org(day, keys)` — from the data now (what closing
  stores); within one such read, metrics of one module that count the same rows share one
  query (lib.registry.shared).
* `rollup_places(counts, places)` — day_counts' pairs added up for the given places.
"""
from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence

from fangkong.lib import registry

EARLIEST = dt.date(2000, 1, 1)  # the first day the report and the dashboard answer for


def live_counts(day: dt.date, keys: Iterable[str] | None = None) -> dict[str, list[tuple[str, int]]]:
    """Each metric's (path, count) pairs for `day`, sorted by path, computed from the data now."""
    wanted = None if keys is None else set(keys)
    out: dict[str, list[tuple[str, int]]] = {}
    with registry.one_read():  # metrics counting the same rows share one query (registry.shared)
        for metric in registry.metrics():
            if wanted is not None and metric.key not in wanted:
                continue
            merged: dict[str, int] = {}
            for path, n in metric.counts(day):
                if path is None or not n:
                    continue
                merged[path] = merged.get(path, 0) + int(n)
            out[metric.key] = sorted(merged.items())
    return out


def rollup(pairs: Sequence[tuple[str, int]], paths: Iterable[str]) -> dict[str, int]:
    """For each place path, the sum of the counts of `pairs` (sorted by path) under it.

    A subtree is a contiguous range of the sorted paths ([path, path + "~")), so each place
    costs two binary searches plus its own range, whatever the size of the tree."""
    keys = [p for p, _n in pairs]
    prefix = [0]
    for _p, n in pairs:
        prefix.append(prefix[-1] + n)
    out = {}
    for path in paths:
        lo = bisect.bisect_left(keys, path)
        hi = bisect.bisect_left(keys, path + "~")  # "~" sorts after every base-36 digit and "/"
        out[path] = prefix[hi] - prefix[lo]
    return out


def live_by_org(day: dt.date, keys: Iterable[str] | None = None) -> dict[str, list[tuple[int, int]]]:
    """Each by_org metric's (organization id, count) pairs for `day`, from the data now."""
    wanted = None if keys is None else set(keys)
    out: dict[str, list[tuple[int, int]]] = {}
    for metric in registry.metrics():
        if metric.by_org is None or (wanted is not None and metric.key not in wanted):
            continue
        merged: dict[int, int] = {}
        for org_id, n in metric.by_org(day):
            if org_id is None or not n:
                continue
            merged[int(org_id)] = merged.get(int(org_id), 0) + int(n)
        out[metric.key] = sorted(merged.items())
    return out


def _snapshot(day: dt.date):
    from .models import ClosedDay

    row = ClosedDay.objects.filter(day=day).values_list("snapshot", flat=True).first()
    return row


def day_counts(day: dt.date, keys: Iterable[str] | None = None, snapshot=None) -> dict[str, list[tuple[str, int]]]:
    """Each metric's (path, count) pairs for `day`: from the closed day's snapshot if the day
    is closed, else computed from the data now. Keys are those registered now."""
    snap = _snapshot(day) if snapshot is None else snapshot
    if not snap:
        return live_counts(day, keys)
    wanted = [m.key for m in registry.metrics()] if keys is None else list(keys)
    stored = snap.get("metrics", {})
    return {key: sorted((p, int(n)) for p, n in stored.get(key, [])) for key in wanted}


def place_figures(day: dt.date, places: Sequence, keys: Iterable[str] | None = None) -> dict[int, dict[str, int]]:
    """{place id: {metric key: count in the place's subtree on `day`}} for the given places
    (a closed day: as kept at closing)."""
    return rollup_places(day_counts(day, keys), places)


def place_series(days: Iterable[dt.date], places: Sequence, keys: Iterable[str] | None = None
                 ) -> dict[dt.date, dict[int, dict[str, int]]]:
    """{day: {place id: {metric key: count}}}: place_figures for several days."""
    keys = None if keys is None else list(keys)
    return {day: place_figures(day, places, keys) for day in days}


def org_figures(day: dt.date, org_ids: Iterable[int], keys: Iterable[str] | None = None, snapshot=None
                ) -> dict[int, dict[str, int]]:
    """{organization id: {by_org metric key: count on `day`}} (a closed day: as kept)."""
    snap = _snapshot(day) if snapshot is None else snapshot
    if snap:
        wanted = [m.key for m in registry.metrics() if m.by_org is not None] if keys is None else list(keys)
        stored = snap.get("by_org", {})
        pairs = {key: [(int(o), int(n)) for o, n in stored.get(key, [])] for key in wanted}
    else:
        pairs = live_by_org(day, keys)
    org_ids = list(org_ids)
    out: dict[int, dict[str, int]] = {o: {} for o in org_ids}
    for key, items in pairs.items():
        got = dict(items)
        for o in org_ids:
            out[o][key] = got.get(o, 0)
    return out


def rollup_places(counts: dict[str, list[tuple[str, int]]], places: Sequence) -> dict[int, dict[str, int]]:
    """{place id: {metric key: sum of the key's pairs under the place's path}}."""
    out: dict[int, dict[str, int]] = {p.pk: {} for p in places}
    paths = [p.path for p in places]
    for key, pairs in counts.items():
        sums = rollup(pairs, paths)
        for place in places:
            out[place.pk][key] = sums[place.path]
    return out
