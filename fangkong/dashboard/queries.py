"""Reads of the dashboard: the places a viewer may see, and the figures of a place and its
children for one day and over a run of days.

Counts come only from `fangkong.reports.figures.place_figures` (the one read of the daily
figures) and the metric list from `lib.registry.metrics()`; places only through
places.access, so a viewer never gets a figure of a place outside their grants.
"""
from __future__ import annotations

import datetime as dt
import zlib

from django.core.cache import cache
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.lib import registry
from fangkong.places.access import get_in_scope, places_in_scope, top_paths
from fangkong.places.models import SEGMENT, Place
from fangkong.reports.figures import EARLIEST, place_figures

PERM = "dashboard.view"
DAY_CHOICES = (7, 14, 30)
DEFAULT_DAYS = 14
MAX_DAYS = 31
# How long the figures of a closed (past) day are kept: past days can still change a little
# (a gate's offline queue uploaded late), so they are cached for minutes, not for ever.
# Today is never cached.
CLOSED_DAY_SECONDS = 600


class BadParams(Exception):
    def __init__(self, errors: dict):
        self.errors = errors


# --- Places -------------------------------------------------------------------------------

def root_places(user) -> list[Place]:
    """The top places of the viewer's grants for the dashboard (a street for a commander,
    a community for its committee, a grid for its worker; the tree's roots for an admin).
    Organization grants have no place tree under them and give no place."""
    tops = top_paths(user, PERM)
    if tops is None:
        return list(Place.objects.filter(parent__isnull=True).order_by("path"))
    return list(Place.objects.filter(path__in=tops).order_by("path"))


def get_place(user, pk) -> Place:
    if not isinstance(pk, int) or not 0 < pk < 2**63:
        raise Http404
    return get_in_scope(Place.objects.all(), user, PERM, pk=pk)


def children(place: Place) -> list[Place]:
    return list(Place.objects.filter(parent=place).order_by("path"))


def breadcrumb(user, place: Place) -> list[Place]:
    """The place's ancestors the viewer may see, from the top down, and the place."""
    ids = [int(seg, 36) for seg in place.path.strip("/").split("/") if seg]
    seen = places_in_scope(user, PERM).in_bulk(ids)
    return [seen[i] for i in ids if i in seen]


# --- Parameters ---------------------------------------------------------------------------

def parse_days(raw) -> int:
    if raw is None or raw == "":
        return DEFAULT_DAYS
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise BadParams({"days": _("Choose a number of days from 1 to %(max)d") % {"max": MAX_DAYS}})
    return int(text)


def parse_day(raw, today: dt.date) -> dt.date:
    if raw is None or raw == "":
        return today
    text = str(raw).strip()
    try:
        if not text.isascii() or len(text) != 10:
            raise ValueError
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise BadParams({"day": _("Enter a date as YYYY-MM-DD")}) from None
    if day > today:
        raise BadParams({"day": _("The day cannot be in the future")})
    if day < EARLIEST:
        raise BadParams({"day": _("The day cannot be before %(day)s") % {"day": EARLIEST.isoformat()}})
    return day


def parse(params, today: dt.date) -> tuple[dt.date, int]:
    """(day, days) from request parameters; BadParams naming every bad field."""
    errors, day, days = {}, today, DEFAULT_DAYS
    try:
        day = parse_day(params.get("day"), today)
    except BadParams as exc:
        errors.update(exc.errors)
    try:
        days = parse_days(params.get("days"))
    except BadParams as exc:
        errors.update(exc.errors)
    if errors:
        raise BadParams(errors)
    return day, days


# --- Figures ------------------------------------------------------------------------------

def metric_list() -> list[dict]:
    return [{"key": m.key, "label": str(m.label), "section": str(m.section), "kind": m.kind}
            for m in registry.metrics()]


def _family_key(day: dt.date, place_pk: int, path: str) -> str:
    """Cache key of the figures of a place and its children on a closed day. The metric
    keys are part of it, so a newly registered metric never reads an entry without it."""
    sig = zlib.crc32(",".join(m.key for m in registry.metrics()).encode())
    return f"dashboard:{day.isoformat()}:{place_pk}:{path}:{sig:x}"


def _parent_of(place: Place) -> tuple[int, str] | None:
    parent_path = place.path[: -SEGMENT - 1]
    if not parent_path:
        return None
    return int(parent_path.rstrip("/").rsplit("/", 1)[-1], 36), parent_path


def family(day: dt.date, place: Place, kids: list[Place], today: dt.date) -> dict[int, dict[str, int]]:
    """place_figures of the place and its children on `day`. A closed (past) day's are
    cached as one entry per place, which also holds the children's, so the trend of a
    child opened by drill-down is read from its parent's entries. Today is never cached."""
    places = [place, *kids]
    if day >= today:
        return place_figures(day, places)
    key = _family_key(day, place.pk, place.path)
    got = cache.get(key)
    if got is not None and all(p.pk in got for p in places):
        return got
    fresh = place_figures(day, places)
    cache.set(key, fresh, CLOSED_DAY_SECONDS)
    return fresh


def day_figures(place: Place, kids: list[Place], day: dt.date) -> dict:
    """The place's totals on `day`, each child's, and what lies at the place itself (in no
    child: a household registered on a grid rather than in one of its compounds)."""
    metrics = metric_list()
    figs = family(day, place, kids, timezone.localdate())
    total = {m["key"]: figs[place.pk].get(m["key"], 0) for m in metrics}
    rows = [{"place": k, "figures": {m["key"]: figs[k.pk].get(m["key"], 0) for m in metrics}} for k in kids]
    direct = {key: n - sum(r["figures"][key] for r in rows) for key, n in total.items()}
    return {"metrics": metrics, "total": total, "children": rows, "direct": direct}


def trend(place: Place, kids: list[Place], day: dt.date, days: int, known: dict[str, int] | None = None) -> dict:
    """The place's figures on each of the `days` days ending with `day` (`known`: the
    place's figures on `day`, already read for the cards, so they are not read twice).
    A closed day comes from the cache entry of the place or of its parent if there is
    one, else it is read with the children's (one read costs the same) and cached."""
    dates = [day - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]
    today = timezone.localdate()
    parent = _parent_of(place)
    keys = {}
    for d in dates:
        if d < today:
            keys[d] = [_family_key(d, place.pk, place.path)] + ([_family_key(d, *parent)] if parent else [])
    found = cache.get_many([k for ks in keys.values() for k in ks])
    series: dict[str, list[int]] = {m.key: [] for m in registry.metrics()}
    for d in dates:
        figs = None
        if d == day and known is not None:
            figs = known
        for k in keys.get(d, []):
            if figs is None and k in found and place.pk in found[k]:
                figs = found[k][place.pk]
        if figs is None:
            figs = family(d, place, kids, today)[place.pk]
        for key, values in series.items():
            values.append(figs.get(key, 0))
    return {"dates": [d.isoformat() for d in dates], "series": series}


def grouped(metrics: list[dict], total: dict) -> list[dict]:
    """Headline cards: the metrics with their counts, grouped by section in metric order."""
    out: list[dict] = []
    for m in metrics:
        if not out or out[-1]["section"] != m["section"]:
            out.append({"section": m["section"], "cards": []})
        out[-1]["cards"].append({**m, "count": total.get(m["key"], 0)})
    return out
