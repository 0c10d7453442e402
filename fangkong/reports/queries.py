"""Reads of the daily report: the table for one day and one place, scoped to the viewer.

The report of a place has one row per child place (street → communities, community → grids,
grid → compounds/buildings/checkpoints), a row for what was counted at the place itself
(only when there is any), and a totals row, which is the place's own figure: the sum of its
rows by construction. A second table lists the organizations (stations, units) under the
place with their figures per unit (Metric.by_org) and their entered figures.

A closed day shows what was kept at closing (figures.day_counts); what differs now shows
beside it as a correction: entered figures corrected by a coordinator (who, when, why), and
figures from the data that changed since closing ("now: n").
"""
from __future__ import annotations

import datetime as dt
from collections import OrderedDict

from fangkong.lib import registry
from fangkong.places.access import get_in_scope, places_in_scope, scope
from fangkong.places.models import Organization, Place

from . import figures
from .models import ClosedDay, Correction, FigureDefinition, Submission


def top_place(user, perm: str = "reports.view") -> Place | None:
    """The viewer's top place in scope (the shallowest; for an admin the top of the tree)."""
    return places_in_scope(user, perm).exclude(kind=Place.Kind.CHECKPOINT).order_by("depth", "path").first()


def place_for(user, raw, perm: str = "reports.view") -> Place | None:
    """The place asked for (404 if outside the scope), else the viewer's top place; None
    when the viewer's grants name no place (e.g. a grant on an organization only)."""
    if raw in (None, ""):
        return top_place(user, perm)
    return get_in_scope(Place.objects.all(), user, perm, pk=raw)


def metric_columns(keys=None) -> list[dict]:
    out = []
    for m in registry.metrics():
        if keys is None or m.key in keys:
            out.append({"key": m.key, "label": str(m.label), "section": str(m.section), "kind": m.kind,
                        "by_org": m.by_org is not None})
    return out


def sections(columns: list[dict]) -> list[tuple[str, int]]:
    """(section label, number of columns) in column order, for merged header cells."""
    out: OrderedDict[str, int] = OrderedDict()
    for c in columns:
        out[c["section"]] = out.get(c["section"], 0) + 1
    return list(out.items())


def report(user, day: dt.date, place: Place) -> dict:
    """Everything the page, the exports and the API show for `day` under `place`."""
    closed = ClosedDay.objects.filter(day=day).first()
    snap = closed.snapshot if closed else None
    columns = metric_columns()
    keys = [c["key"] for c in columns]
    children = list(place.children.order_by("path"))
    counts = figures.day_counts(day, keys, snapshot=snap)
    figs = figures.rollup_places(counts, [place, *children])
    totals = figs[place.pk]
    rows = [{"place": c, "name": c.name, "kind": c.get_kind_display(), "figures": figs[c.pk]} for c in children]
    rest = {k: totals[k] - sum(r["figures"][k] for r in rows) for k in keys}
    if children and any(rest.values()):
        rows.append({"place": place, "name": f"{place.name} ({_own_label()})", "kind": "", "figures": rest})
    if not children:
        rows = [{"place": place, "name": place.name, "kind": place.get_kind_display(), "figures": dict(totals)}]
    changed = {}
    if closed is not None:
        live = figures.rollup_places(figures.live_counts(day, keys), [place, *children])
        for r in rows:
            pid = r["place"].pk
            if r["place"] is place and children:
                now = {k: live[place.pk][k] - sum(live[c.pk][k] for c in children) for k in keys}
            else:
                now = live[pid]
            r["changed"] = {k: now[k] for k in keys if now[k] != r["figures"][k]}
        changed = {k: live[place.pk][k] for k in keys if live[place.pk][k] != totals[k]}
    for r in rows:
        r["cells"] = [{"value": r["figures"][k], "now": r.get("changed", {}).get(k)} for k in keys]
    total_cells = [{"value": totals[k], "now": changed.get(k)} for k in keys]

    org_part = org_table(user, day, place, closed)
    return {
        "day": day, "place": place, "closed": closed, "columns": columns, "sections": sections(columns),
        "rows": rows, "totals": totals, "total_cells": total_cells, "changed": changed, **org_part,
    }


def _own_label() -> str:
    from django.utils.translation import gettext

    return gettext("at the place itself")


def org_table(user, day: dt.date, place: Place, closed: ClosedDay | None) -> dict:
    orgs = list(Organization.objects.filter(place_path__under=place.path).order_by("place_path", "name"))
    org_cols = [c for c in metric_columns() if c["by_org"]]
    defs = list(FigureDefinition.objects.filter(active=True))
    if closed is not None:
        kept = set(closed.snapshot.get("figures", []))
        defs = [d for d in FigureDefinition.objects.all() if d.key in kept]
    by_org = figures.org_figures(day, [o.pk for o in orgs], [c["key"] for c in org_cols],
                                 snapshot=closed.snapshot if closed else None)
    if closed is not None:
        entered = {int(k): v for k, v in closed.snapshot.get("entered", {}).items()}
    else:
        entered = {s.organization_id: {"state": s.state, "values": s.values}
                   for s in Submission.objects.filter(day=day, organization__in=[o.pk for o in orgs])}
    corrections: dict[tuple[int, str], list] = {}
    if closed is not None:
        for c in Correction.objects.filter(closed_day=closed, submission__organization__in=[o.pk for o in orgs]
                                           ).select_related("submission", "corrected_by"):
            corrections.setdefault((c.submission.organization_id, c.figure), []).append(c)
    rows = []
    totals_by = {c["key"]: 0 for c in org_cols}
    totals_fig = {d.key: 0 for d in defs}
    for o in orgs:
        e = entered.get(o.pk, {})
        values = e.get("values", {})
        reports_fig = [d for d in defs if o.kind in d.kinds]
        fig_cells = []
        for d in defs:
            v = values.get(d.key) if d in reports_fig else None
            if v is not None:
                totals_fig[d.key] += int(v)
            fig_cells.append({"value": v, "applies": d in reports_fig, "corrections": corrections.get((o.pk, d.key), [])})
        for c in org_cols:
            totals_by[c["key"]] += by_org[o.pk].get(c["key"], 0)
        rows.append({"org": o, "by_org": [by_org[o.pk].get(c["key"], 0) for c in org_cols], "figures": fig_cells,
                     "state": e.get("state", ""), "state_label": _state_label(e.get("state", "")),
                     "reports": bool(reports_fig)})
    return {"org_columns": org_cols, "definitions": defs, "org_rows": rows,
            "org_totals_by": [totals_by[c["key"]] for c in org_cols],
            "org_totals_fig": [totals_fig[d.key] for d in defs]}


def _state_label(state: str) -> str:
    return str(Submission.State(state).label) if state in Submission.State.values else ""


def entry_orgs(user):
    """The organizations the user files figures for."""
    return scope(Organization.objects.all(), user, "reports.enter").order_by("name")
