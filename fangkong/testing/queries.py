"""Reads of mass testing, always through the access module: rounds and sites in scope,
who must be tested, coverage per place level, households not yet tested, recall lists,
and throughput per site and lane per hour."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, F, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from fangkong.places.access import get_in_scope, scope
from fangkong.places.models import Grant, Organization, Place
from fangkong.residents.models import Household, Person

from .models import Box, Knock, Recall, Registration, Round, Site


def rounds(user, perm: str = "testing.view"):
    return scope(Round.objects.select_related("place"), user, perm, ancestors=perm in ("testing.knock", "testing.recall"))


def sites(user, perm: str = "testing.register"):
    return scope(Site.objects.select_related("round", "place"), user, perm)


_SITE_SQL: dict = {}


def site_values(pk: int) -> tuple | None:
    """The site `pk` with its round and its area (every field of the three, converted as
    the ORM would), as plain values: a tuple for each, or None if there is no such site.
    What a process may keep (places.access.kept); site_of() makes the instances. One
    statement built once (fastsql): every registration reads its site, and compiling
    Site.objects.select_related("round", "place") with the scope filter was ~0.6 ms of the
    request's CPU, the statement itself tens of microseconds (profile of W6, 2026-12-06;
    api._site). No access check here: the caller decides (places.access.loaded_in_scope,
    else get_in_scope)."""
    from django.db import connection

    sql, readers = _site_plan()
    with connection.cursor() as cur:
        cur.execute(sql, [pk])
        row = cur.fetchone()
    if row is None:
        return None
    parts, at = [], 0
    for rd in readers:
        parts.append(tuple(rd.values(row[at:at + rd.width])))
        at += rd.width
    return tuple(parts)


def _site_plan() -> tuple:
    """(site_values' statement, a fastsql.Reader for each of Site, Round and Place), built once."""
    from django.db import connection

    from fangkong.lib.db import fastsql

    plan = _SITE_SQL.get(connection.vendor)
    if plan is None:
        qn = connection.ops.quote_name
        models = (Site, Round, Place)
        readers = [fastsql.Reader(m, tuple(f.name for f in m._meta.concrete_fields)) for m in models]
        s, r, p = (qn(m._meta.db_table) for m in models)
        col = lambda table, model, name: f"{table}.{qn(model._meta.get_field(name).column)}"  # noqa: E731
        sql = (f"SELECT {', '.join(rd.columns for rd in readers)} FROM {s} "
               f"INNER JOIN {r} ON {col(s, Site, 'round')} = {col(r, Round, 'id')} "
               f"INNER JOIN {p} ON {col(s, Site, 'place')} = {col(p, Place, 'id')} "
               f"WHERE {col(s, Site, 'id')} = %s")
        plan = _SITE_SQL[connection.vendor] = (sql, readers)
    return plan


def site_of(values: tuple) -> Site:
    """A new Site instance (with its round and its area) of site_values()'s values: made
    anew for each call, so that no request changes what another is given."""
    from django.db import connection

    _sql, (rs, rr, rp) = _site_plan()
    site_v, round_v, place_v = values
    site = Site.from_db(connection.alias, rs.attnames, site_v)
    site.round = Round.from_db(connection.alias, rr.attnames, round_v)
    site.place = Place.from_db(connection.alias, rp.attnames, place_v)
    return site


def must_test(rnd: Round):
    """The persons the round must test: registered under its area, narrowed by its filters."""
    qs = Person.objects.filter(place_path__under=rnd.place_path)
    today = rnd.start_date
    if rnd.min_age is not None:
        qs = qs.filter(birth_date__lte=_years_before(today, rnd.min_age))
    if rnd.max_age is not None:
        qs = qs.filter(birth_date__gt=_years_before(today, rnd.max_age + 1))
    tags = [t.strip() for t in (rnd.tags or "").split(",") if t.strip()]
    if tags:
        q = Q()
        for t in tags:
            q |= Q(tags__contains=f",{t},")
        qs = qs.filter(q)
    compounds = list(rnd.compounds.values_list("path", flat=True))
    if compounds:
        q = Q()
        for path in compounds:
            q |= Q(place_path__under=path)
        qs = qs.filter(q)
    return qs


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def registrations_of(rnd: Round):
    """The round's registrations. With its created_at, which each carries (round_created):
    on PostgreSQL the table is partitioned by month on it, so a query of a round reads one
    partition (the planner prunes the others) and its index on (round, person_path)."""
    return Registration.objects.filter(round=rnd, round_created=rnd.created_at)


def tested_ids(rnd: Round):
    return registrations_of(rnd).filter(conflict=False).values("person_id")


LEVELS = ("community", "grid", "compound", "building")


def coverage(user, rnd: Round, *, level: str = "community", perm: str = "testing.view") -> list[dict]:
    """Per place of `level` under the round's area (in the user's scope): must, tested,
    percent. Counted per person place path in two grouped queries, rolled up here."""
    must_q = scope(must_test(rnd), user, perm if perm != "testing.view" else "testing.view")
    must = dict(must_q.values_list("place_path").annotate(n=Count("id")).order_by())
    tested = dict(scope(registrations_of(rnd).filter(conflict=False, recall__isnull=True), user, perm)
                  .values_list("person_path").annotate(n=Count("person_id", distinct=True)).order_by())
    places = {p.path: p for p in Place.objects.filter(path__under=rnd.place_path, kind=level)}
    rows: dict[str, dict] = {}

    def owner(path: str) -> str | None:
        segs = [s for s in path.split("/") if s]
        for i in range(len(segs), 0, -1):
            cand = "/".join(segs[:i]) + "/"
            if cand in places:
                return cand
        return None

    for counts, key in ((must, "must"), (tested, "tested")):
        for path, n in counts.items():
            top = owner(path)
            if top is None:
                continue
            row = rows.setdefault(top, {"place": places[top], "must": 0, "tested": 0})
            row[key] += n
    out = sorted(rows.values(), key=lambda r: r["place"].path)
    for r in out:
        r["percent"] = round(100 * r["tested"] / r["must"], 1) if r["must"] else 0.0
    return out


def totals(user, rnd: Round, perm: str = "testing.view") -> dict:
    must = scope(must_test(rnd), user, perm).count()
    tested = scope(registrations_of(rnd).filter(conflict=False, recall__isnull=True), user, perm).values(
        "person_id").distinct().count()
    return {"must": must, "tested": tested, "percent": round(100 * tested / must, 1) if must else 0.0}


def not_tested_households(user, rnd: Round, perm: str = "testing.knock"):
    """Households in the user's scope with a member the round must test who is not tested:
    the door-knock list (with the last reason recorded, if any)."""
    pending = must_test(rnd).exclude(id__in=tested_ids(rnd)).filter(household__isnull=False)
    qs = scope(Household.objects.filter(id__in=pending.values("household_id")), user, perm)
    return qs.annotate(missing=Count("members", filter=Q(members__in=pending))).select_related("place").order_by("place_path", "id")


def last_knocks(rnd: Round, household_ids) -> dict[int, Knock]:
    out = {}
    for k in Knock.objects.filter(round=rnd, household_id__in=list(household_ids)).order_by("at", "id"):
        out[k.household_id] = k
    return out


def recalls(user, rnd: Round | None = None, perm: str = "testing.recall"):
    qs = scope(Recall.objects.select_related("person", "tube", "round"), user, perm)
    return qs.filter(round=rnd) if rnd is not None else qs


def throughput(rnd: Round, site_ids) -> list[dict]:
    """Registrations per site, lane and hour (for the review of the queue)."""
    rows = (registrations_of(rnd).filter(site_id__in=list(site_ids))
            .annotate(hour=TruncHour("occurred_at", tzinfo=timezone.get_current_timezone()))
            .values("site__name", "lane__number", "lane__kind", "hour").annotate(n=Count("id"))
            .order_by("site__name", "lane__number", "hour"))
    return list(rows)


def conflicts(user, rnd: Round, perm: str = "testing.view"):
    """Second registrations of a person made offline on another device (flagged, not counted)."""
    return scope(registrations_of(rnd).filter(conflict=True), user, perm)


def labs():
    """The laboratories a site may send its boxes to: organizations with a lab account."""
    return Organization.objects.filter(
        kind__in=("clinic", "station"),
        pk__in=Grant.objects.filter(role="lab", revoked_at__isnull=True, organization__isnull=False).values("organization_id"),
    ).order_by("name")


def site_boxes(site: Site):
    return Box.objects.filter(site=site).select_related("lab").annotate(n=Count("tubes")).order_by("-packed_at", "-id")


def registrar_box(user, pk: int, perm: str = "testing.register") -> Box:
    """A box of a site the user registers at (a registrar granted on the site's organization
    reaches its boxes through the site), else the box in the user's scope, else 404."""
    box = Box.objects.filter(pk=pk, site__in=sites(user, perm).values("pk")).first() if 0 < pk < 2**63 else None
    return box or get_in_scope(Box, user, perm, pk=pk)


def lab_boxes(user, perm: str = "testing.results"):
    """Boxes on their way to the user's laboratory first, then the ones received."""
    return (scope(Box.objects.select_related("site", "lab"), user, perm).annotate(n=Count("tubes"))
            .order_by(F("received_at").desc(nulls_first=True), "-packed_at", "-id"))
