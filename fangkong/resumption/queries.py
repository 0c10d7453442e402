"""Reads of work resumption: turnaround per link and end to end, per community."""
from __future__ import annotations

from statistics import median

from django.utils.translation import gettext as _

from fangkong.places.access import scope
from fangkong.places.models import Place

from .models import Application, Event


def _minutes(a, b):
    return (b - a).total_seconds() / 60 if a and b else None


def turnaround(user) -> list[dict]:
    """Per community (and a total row): applications, decisions, median minutes from the
    first submission to the decision, and median minutes from a submission to the start
    of the material review."""
    apps = list(scope(Application.objects.exclude(submitted_at=None), user, "resumption.view")
                .values_list("id", "place_path", "submitted_at", "decided_at"))
    reviews = {}
    for app_id, action, at in Event.objects.filter(application_id__in=[a[0] for a in apps],
                                                   action__in=["submit", "review"]).values_list("application_id", "action", "at"):
        reviews.setdefault(app_id, {}).setdefault(action, at)
    communities = list(Place.objects.filter(kind="community").order_by("path").values_list("path", "name"))
    rows = {path: {"key": path, "label": name, "ids": [], "total": [], "review": []} for path, name in communities}
    total = {"key": "", "label": _("Total"), "ids": [], "total": [], "review": []}
    for app_id, path, submitted, decided in apps:
        targets = [total] + [rows[c] for c, _n in communities if path.startswith(c)]
        r = reviews.get(app_id, {})
        for row in targets:
            row["ids"].append(app_id)
            if decided:
                row["total"].append(_minutes(submitted, decided))
            if "review" in r and "submit" in r:
                row["review"].append(_minutes(r["submit"], r["review"]))
    out = []
    for row in [total, *rows.values()]:
        if not row["ids"] and row is not total:
            continue
        out.append({"key": row["key"], "label": row["label"], "applications": len(row["ids"]), "decided": len(row["total"]),
                    "median_minutes": round(median(row["total"]), 1) if row["total"] else None,
                    "review_minutes": round(median(row["review"]), 1) if row["review"] else None})
    return out
