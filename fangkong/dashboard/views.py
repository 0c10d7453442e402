"""The dashboard pages: headline cards of a place's figures, a trend chart and a breakdown
chart per child place (fed by the JSON of api.py), drill-down by clicking a child and a
breadcrumb back up. Only places within the viewer's grants (dashboard.view)."""
from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from fangkong.places.access import has_perm, requires
from fangkong.places.models import Place
from fangkong.lib.db.replica import reads_from_replica

from . import queries


def _page(request, place: Place | None, roots: list[Place]):
    today = timezone.localdate()
    try:
        day, days = queries.parse(request.GET, today)
        errors, status = {}, 200
    except queries.BadParams as exc:
        day, days, errors, status = today, queries.DEFAULT_DAYS, exc.errors, 400
    ctx = {"place": place, "roots": roots, "day": day, "today": today, "days": days, "errors": errors,
           "day_choices": queries.DAY_CHOICES, "metrics": queries.metric_list()}
    if place is not None:
        figs = queries.day_figures(place, kids := queries.children(place), day)
        keys = [m["key"] for m in figs["metrics"]]
        # The breakdown shows the chosen metric, else the first with something counted.
        metric = request.GET.get("metric", "")
        if metric not in keys:
            metric = next((k for k in keys if figs["total"][k]), keys[0] if keys else "")
        ctx.update({
            "kids": kids, "figs": figs, "groups": queries.grouped(figs["metrics"], figs["total"]),
            "breadcrumb": queries.breadcrumb(request.user, place),
            "can_report": has_perm(request.user, "reports.view"),
            "metric": metric,
            "has_direct": any(figs["direct"].values()),
            "rows": [{"place": r["place"], "counts": [r["figures"][k] for k in keys]} for r in figs["children"]],
            "total_counts": [figs["total"][k] for k in keys],
            "direct_counts": [figs["direct"][k] for k in keys],
            "config": {
                "api": reverse("api:dashboard", kwargs={"pk": place.pk}) + f"?days={days}&day={day.isoformat()}",
                "metric": metric,
                "lang": request.LANGUAGE_CODE,
            },
            "i18n": {
                "loading": _("Loading the charts…"),
                "failed": _("The charts could not be loaded. Reload the page to try again."),
                "direct": _("At %(name)s itself") % {"name": place.name},
            },
        })
    return render(request, "dashboard/page.html", ctx, status=status)


@requires(queries.PERM)
@require_GET
@reads_from_replica
def home(request):
    """The viewer's own place: their one top place, or a choice when they hold several."""
    roots = queries.root_places(request.user)
    return _page(request, roots[0] if len(roots) == 1 else None, roots)


@requires(queries.PERM, obj=Place)
@require_GET
@reads_from_replica
def place(request, pk: int):
    return _page(request, queries.get_place(request.user, pk), [])
