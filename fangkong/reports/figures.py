"""Daily figures (M8) added up the place tree.

Every module registers its metrics in fangkong.core.registry; a metric answers, for one
local day, (place path, count) pairs where a place path is the materialized path of the
place the counted thing happened at (a grid, compound or building, or a community). The
count for a place is the sum over the pairs whose path lies under the place's path, so the
totals of a parent are the sum of its children's by construction (for the part of the tree
that the children cover).

This is the one read of the figures: the daily report, its exports and the dashboard call
`place_figures`; nobody else calls the metric providers. It takes no user: callers scope
the *places* they ask for (places.access) and only ever get counts, never rows.
"""
from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence

from fangkong.core import registry


def live_counts(day: dt.date, keys: Iterable[str] | None = None) -> dict[str, list[tuple[str, int]]]:
    """Each metric's (path, count) pairs for `day`, sorted by path, computed from the data now."""
    wanted = None if keys is None else set(keys)
    out: dict[str, list[tuple[str, int]]] = {}
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


def place_figures(day: dt.date, places: Sequence, keys: Iterable[str] | None = None) -> dict[int, dict[str, int]]:
    """{place id: {metric key: count in the place's subtree on `day`}} for the given places."""
    counts = live_counts(day, keys)
    out: dict[int, dict[str, int]] = {p.pk: {} for p in places}
    paths = [p.path for p in places]
    for key, pairs in counts.items():
        sums = rollup(pairs, paths)
        for place in places:
            out[place.pk][key] = sums[place.path]
    return out
