"""JSON of the dashboard's charts: a place's figures on one day, per child place, and its
trend over the days before. Counts only, never a person."""
from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from ninja import Router, Schema

from fangkong.lib.workflow import Invalid
from fangkong.places.access import api_perm
from fangkong.places.models import Place
from fangkong.lib.db.replica import replica_reads

from . import queries

router = Router(tags=["dashboard"])


class MetricOut(Schema):
    key: str
    label: str
    section: str
    kind: str


class DashboardPlaceOut(Schema):
    id: int
    name: str
    kind: str
    kind_label: str
    url: str


class ChildOut(DashboardPlaceOut):
    figures: dict[str, int]


class TrendOut(Schema):
    dates: list[str]
    series: dict[str, list[int]]


class DashboardOut(Schema):
    place: DashboardPlaceOut
    breadcrumb: list[DashboardPlaceOut]
    day: str
    days: int
    metrics: list[MetricOut]
    total: dict[str, int]
    direct: dict[str, int]
    children: list[ChildOut]
    trend: TrendOut


def place_out(place: Place) -> dict:
    return {"id": place.pk, "name": place.name, "kind": place.kind, "kind_label": str(place.get_kind_display()),
            "url": reverse("dashboard_place", kwargs={"pk": place.pk})}


def data(user, place: Place, day, days: int) -> dict:
    kids = queries.children(place)
    today = queries.day_figures(place, kids, day)
    return {
        "place": place_out(place),
        "breadcrumb": [place_out(p) for p in queries.breadcrumb(user, place)],
        "day": day.isoformat(),
        "days": days,
        "metrics": today["metrics"],
        "total": today["total"],
        "direct": today["direct"],
        "children": [{**place_out(r["place"]), "figures": r["figures"]} for r in today["children"]],
        "trend": queries.trend(place, kids, day, days, known=today["total"]),
    }


@router.get("/dashboard/{pk}", response=DashboardOut, auth=api_perm(queries.PERM, obj=Place), url_name="dashboard")
def dashboard(request, pk: int, days: str | None = None, day: str | None = None):
    """A place's figures on `day` (default today) in total and per child place, and its
    trend over the `days` days (1 to 31, default 14) ending with `day`."""
    with replica_reads(request.user):  # fangkong/lib/db/replica.py
        place = queries.get_place(request.user, pk)
        try:
            when, n = queries.parse({"day": day, "days": days}, timezone.localdate())
        except queries.BadParams as exc:
            raise Invalid(exc.errors) from None
        return data(request.user, place, when, n)
