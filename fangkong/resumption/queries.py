"""Reads of work resumption: turnaround per link and end to end, per community."""
from __future__ import annotations

from statistics import median

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.places.access import scope
from fangkong.places.models import Place

from .models import Application, Event

# (key, label, from-action, to-actions): each link measured from the first event of the
# first action to the first following event of one of the others, in minutes.
LINKS = [
    ("review", gettext_lazy("Submission → material review"), ("submit", "resubmit"), ("review", "return")),
    ("assign", gettext_lazy("Material review → check assigned"), ("review", "resubmit"), ("assign", "return")),
    ("check", gettext_lazy("Check assigned → decided on site"), ("assign",), ("approve", "fail")),
    ("restart", gettext_lazy("Approval → restart"), ("approve",), ("resume",)),
]


def _minutes(a, b):
    return (b - a).total_seconds() / 60 if a and b else None


def _link_times(events: list[tuple[str, object]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for key, _label, sources, targets in LINKS:
        start = None
        for action, at in events:
            if action in sources and start is None:
                start = at
            elif action in targets and start is not None:
                out.setdefault(key, []).append(_minutes(start, at))
                start = None
    return out


def turnaround(user) -> list[dict]:
    """Per community (and a total row first): applications, decisions, median minutes from
    the first submission to the decision (end to end), and the median of each link."""
    apps = list(scope(Application.objects.exclude(submitted_at=None), user, "resumption.view")
                .values_list("id", "place_path", "submitted_at", "decided_at"))
    events: dict[int, list] = {}
    for app_id, action, at in Event.objects.filter(application_id__in=[a[0] for a in apps]).order_by(
            "at", "id").values_list("application_id", "action", "at"):
        events.setdefault(app_id, []).append((action, at))
    communities = list(Place.objects.filter(kind="community").order_by("path").values_list("path", "name"))

    def row(key, label):
        return {"key": key, "label": label, "ids": 0, "total": [], "links": {k: [] for k, *_r in LINKS}}

    rows = {path: row(path, name) for path, name in communities}
    total = row("", _("Total"))
    for app_id, path, submitted, decided in apps:
        times = _link_times(events.get(app_id, []))
        for r in [total] + [rows[c] for c, _n in communities if path.startswith(c)]:
            r["ids"] += 1
            if decided:
                r["total"].append(_minutes(submitted, decided))
            for k, values in times.items():
                r["links"][k] += values
    out = []
    for r in [total, *rows.values()]:
        if not r["ids"] and r is not total:
            continue
        out.append({"key": r["key"], "label": r["label"], "applications": r["ids"], "decided": len(r["total"]),
                    "median_minutes": round(median(r["total"]), 1) if r["total"] else None,
                    "review_minutes": round(median(r["links"]["review"]), 1) if r["links"]["review"] else None,
                    "links": {k: (round(median(v), 1) if v else None) for k, v in r["links"].items()}})
    return out
