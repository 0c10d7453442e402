"""Pass colour rules (M6): one function derives the colour from the health flags that the
modules report (fangkong.lib.registry.health_flags); nobody types a colour in, except as
an override that a second person approved and that expires.

    red     FEVER, HOSPITAL, CENTRAL_OBSERVATION, or home OBSERVATION
    yellow  HEALTH_MONITORING, or RELEASED in the last 14 days
    green   none of these

Home observation is red, not yellow: in the seeds (000, 003, 004) a person under home
medical observation (居家医学观察/居家隔离) stays at home for 14 days — temperatures are taken
at the door or by video and supplies are brought to the door — so a gate must turn them
back exactly like a person under centralized observation. Yellow marks the people who may
go out but are watched: health monitoring (the lighter measure) and the 14 days after a
release.

An approved override that has not expired wins over the derived colour; an override of a
pass (visitor, vehicle) wins over one of its person.
"""
from __future__ import annotations

from django.utils import timezone

from fangkong.lib import registry

GREEN, YELLOW, RED = "green", "yellow", "red"
RED_FLAGS = frozenset({registry.FEVER, registry.HOSPITAL, registry.CENTRAL_OBSERVATION, registry.OBSERVATION})
YELLOW_FLAGS = frozenset({registry.HEALTH_MONITORING, registry.RELEASED})


def derived(flags: set[str]) -> str:
    if flags & RED_FLAGS:
        return RED
    if flags & YELLOW_FLAGS:
        return YELLOW
    return GREEN


def _overrides(now, **filters) -> dict[int, str]:
    """{subject id: colour} of approved, unexpired overrides (the latest approval wins)."""
    from .models import Override

    field = next(iter(filters)).split("__")[0]
    out: dict[int, str] = {}
    qs = Override.objects.filter(state=Override.State.APPROVED, until__gt=now, **filters).order_by("decided_at", "pk")
    for subject, colour in qs.values_list(f"{field}_id", "colour"):
        out[subject] = colour
    return out


def colour_for(person_ids, *, now=None) -> dict[int, str]:
    """{person id: "green" | "yellow" | "red"} for these persons, now."""
    ids = list({int(p) for p in person_ids})
    if not ids:
        return {}
    now = now or timezone.now()
    flags = registry.health_flags(ids)
    out = {pid: derived(flags.get(pid, set())) for pid in ids}
    out.update(_overrides(now, person__in=ids))
    return out


_PASS_NOW_SQL: dict[str, str] = {}
_UNSET = object()


def pass_now(pass_id: int, now=None) -> tuple[int | None, str, str | None] | None:
    """(person id, place path, colour of its approved unexpired override or None) of one
    pass, or None if there is no such pass: what a gate needs of a pass at an online
    check-in (pass_colour's inputs and the visitor pass's host place), in one prepared
    statement (the override, the latest approval winning, is a subquery)."""
    from django.db import connection

    from .models import Override, Pass

    now = now or timezone.now()
    sql = _PASS_NOW_SQL.get(connection.vendor)
    if sql is None:
        qn, pm, om = connection.ops.quote_name, Pass._meta, Override._meta
        pcol = lambda name: qn(pm.get_field(name).column)  # noqa: E731
        ocol = lambda name: f"{qn(om.db_table)}.{qn(om.get_field(name).column)}"  # noqa: E731 - qualified: Pass has state, id too
        sql = _PASS_NOW_SQL[connection.vendor] = (
            f"SELECT {pcol('person')}, {pcol('place_path')}, "
            f"(SELECT {ocol('colour')} FROM {qn(om.db_table)} WHERE {ocol('pass_obj')} = {qn(pm.db_table)}.{pcol('id')} "
            f"AND {ocol('state')} = %s AND {ocol('until')} > %s ORDER BY {ocol('decided_at')} DESC, {ocol('id')} DESC LIMIT 1) "
            f"FROM {qn(pm.db_table)} WHERE {pcol('id')} = %s")
    until = Override._meta.get_field("until").get_db_prep_value(now, connection)
    with connection.cursor() as cur:
        cur.execute(sql, [Override.State.APPROVED.value, until, pass_id])
        row = cur.fetchone()
    return (row[0], row[1], row[2]) if row else None


def pass_colour(pass_, *, now=None, override=_UNSET) -> str:
    """The colour of a pass now: its own override, else its person's colour (resident,
    vehicle with a registered owner), else green (a visitor checked at issue). `override`:
    the pass's own override colour (or None) when the caller has read it (pass_now)."""
    now = now or timezone.now()
    if override is _UNSET:
        stored = pass_now(pass_.pk, now)
        override = stored[2] if stored else None
    if override is not None:
        return override
    if pass_.person_id:
        return colour_for([pass_.person_id], now=now)[pass_.person_id]
    return GREEN
