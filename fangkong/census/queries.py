"""Census reads, scoped to the viewer through places.access.

A campaign is visible to a user whose grant lies inside its area (the grid worker of a
street-wide census) as well as to those whose grant contains it; every figure inside it
is then limited to the viewer's own part (households in scope).
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.http import Http404

from fangkong.places.access import ancestor_paths, scope
from fangkong.places.models import Place
from fangkong.residents.models import Household

from .models import Campaign, FollowUp, Visit


def campaigns(user, perm: str = "census.view"):
    """Campaigns whose area contains or lies within one of the user's grants for `perm`."""
    return scope(Campaign.objects.all(), user, perm, ancestors=True)


def get_campaign(user, perm: str, pk) -> Campaign:
    """One campaign visible for `perm`, else 404 (missing and out of scope look the same)."""
    try:
        return campaigns(user, perm).select_related("place", "questionnaire").get(pk=pk)
    except (Campaign.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def households(user, perm: str, campaign: Campaign):
    """Households of the campaign's area in the user's scope."""
    return scope(Household.objects.filter(place_path__under=campaign.place_path), user, perm)


def reached_q(campaign: Campaign):
    return Exists(Visit.objects.filter(campaign=campaign, household=OuterRef("pk"), outcome=Visit.Outcome.REACHED))


def pending(user, perm: str, campaign: Campaign):
    """户户过关: households in the viewer's part of the area not yet reached in this campaign
    (a visit with nobody home or a refusal leaves the household on the list)."""
    return households(user, perm, campaign).exclude(reached_q(campaign)).select_related("place").order_by("place_path", "address")


@dataclass
class Row:
    place: Place
    households: int = 0
    reached: int = 0

    @property
    def percent(self) -> int:
        return int(100 * self.reached / self.households) if self.households else 0

    @property
    def missing(self) -> int:
        return self.households - self.reached


@dataclass
class Progress:
    household_visits: int
    person_visits: int
    households: int
    reached: int
    followups_open: int
    communities: list[Row]
    grids: list[Row]

    @property
    def percent(self) -> int:
        return int(100 * self.reached / self.households) if self.households else 0


def progress(user, campaign: Campaign) -> Progress:
    """户次, 人次 and coverage (households reached at least once / households registered)
    per community and grid of the area, limited to the viewer's scope."""
    perm = "census.view"
    hh = households(user, perm, campaign)
    total = dict(hh.values_list("place_path").annotate(n=Count("id")).order_by())
    reached = dict(hh.filter(reached_q(campaign)).values_list("place_path").annotate(n=Count("id")).order_by())
    visits = scope(Visit.objects.filter(campaign=campaign), user, perm)
    agg = visits.aggregate(n=Count("id"), p=Sum("persons"))
    places = Place.objects.filter(kind__in=["community", "grid"]).filter(
        Q(path__under=campaign.place_path) | Q(path__in=ancestor_paths(campaign.place_path)))
    rows = {p.path: Row(p) for p in places}
    for table, attr in ((total, "households"), (reached, "reached")):
        for path, n in table.items():
            for prefix in ancestor_paths(path):
                if prefix in rows:
                    setattr(rows[prefix], attr, getattr(rows[prefix], attr) + n)
    shown = [r for r in rows.values() if r.households]
    return Progress(
        household_visits=agg["n"] or 0, person_visits=agg["p"] or 0,
        households=sum(total.values()), reached=sum(reached.values()),
        followups_open=scope(FollowUp.objects.filter(campaign=campaign, state=FollowUp.State.OPEN), user, perm).count(),
        communities=sorted((r for r in shown if r.place.kind == "community"), key=lambda r: r.place.path),
        grids=sorted((r for r in shown if r.place.kind == "grid"), key=lambda r: r.place.path),
    )


def followups(user, state: str = "open", perm: str = "census.view"):
    qs = scope(FollowUp.objects.select_related("person", "campaign", "visit__household"), user, perm)
    return qs.filter(state=state) if state in FollowUp.State.values else qs
