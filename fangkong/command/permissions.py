"""Roles and permissions of command (M17): headquarters and working groups, meetings and
their decisions, numbered notices with receipts, inspections and their findings, and the
state of every entrance (merged into fangkong.places.access at start-up)."""
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import declare, declare_membership

HQ = {"commander", "coordinator"}

declare(
    roles={"inspector": _("Inspector"), "hq_member": _("HQ working-group member")},
    perms={
        # The HQ board, its groups, meetings and decisions: the headquarters' own staff and
        # the members of its working groups.
        "command.view": HQ | {"inspector", "hq_member"},
        "command.organize": HQ,  # HQ, working groups, inspection teams and plans
        "command.minutes": {"coordinator"},  # meetings and their decisions
        "command.decision_done": HQ,  # the owner's "done"
        "command.verify": {"commander"},  # a decision verified
        # Notices: drafted by a coordinator, approved and published by a commander.
        "command.notices": HQ,  # the editor and the receipt tracking
        "command.draft": {"coordinator"},
        "command.publish": {"commander"},
        # A receiving committee or unit confirms its own receipts (scoped by its community or unit).
        "command.receipt": {"committee", "unit_liaison"},
        # Notices in force, for everyone they concern (and the hotline's reference list).
        "command.in_force": HQ | {"committee", "grid_worker", "medic", "unit_liaison", "volunteer", "inspector",
                                  "gate_guard", "hq_member"},
        # Inspections: inspectors record findings (for their team's plans) and verify them.
        "command.inspect": {"inspector"},
        "command.inspections": HQ | {"inspector"},
        "command.rectify": {"committee", "unit_liaison"},  # the responsible party reports a finding fixed
        # Entrances: their state (open and guarded / sealed / emergency only).
        "command.points": HQ | {"committee", "gate_guard", "inspector"},
        "command.seal": HQ | {"committee"},
    },
    # The members of an HQ's working groups see the whole area's dashboard.
    extend={"dashboard.view": {"hq_member"}},
)


_HQ_SQL: dict = {}


def _hq_places(user) -> list[tuple[int, str]]:
    """The places of the headquarters whose working groups `user` belongs to now (the
    leader is a member): its hq_member role holds there, for as long as it stays a member.

    One statement built once per database (the membership table, its group, the group's
    headquarters and place): every audited action of a signed-in user reads the user's
    roles (audit.record), memberships included, and compiling the equivalent queryset
    (WorkingGroup.objects.filter(members=user).values_list("hq__place_id",
    "hq__place__path").distinct()) was ~0.4 ms of CPU a request, the statement tens of
    microseconds (profile of bench W6, 2026-12-06)."""
    from django.db import connection

    from fangkong.places.models import Place

    from .models import Headquarters, WorkingGroup

    sql = _HQ_SQL.get(connection.vendor)
    if sql is None:
        qn = connection.ops.quote_name
        through = WorkingGroup.members.through._meta
        m, g, h, p = (qn(t) for t in (through.db_table, WorkingGroup._meta.db_table, Headquarters._meta.db_table,
                                      Place._meta.db_table))
        col = lambda table, meta, name: f"{table}.{qn(meta.get_field(name).column)}"  # noqa: E731
        wg, hq, pl = WorkingGroup._meta, Headquarters._meta, Place._meta
        sql = _HQ_SQL[connection.vendor] = (
            f"SELECT DISTINCT {col(h, hq, 'place')}, {col(p, pl, 'path')} FROM {m} "
            f"INNER JOIN {g} ON {col(m, through, 'workinggroup')} = {col(g, wg, 'id')} "
            f"INNER JOIN {h} ON {col(g, wg, 'hq')} = {col(h, hq, 'id')} "
            f"INNER JOIN {p} ON {col(h, hq, 'place')} = {col(p, pl, 'id')} "
            f"WHERE {col(m, through, 'user')} = %s ORDER BY {col(p, pl, 'path')}")
    with connection.cursor() as cur:
        cur.execute(sql, [user.pk])
        return [tuple(row) for row in cur.fetchall()]


def _hq_tables() -> list[str]:
    """What _hq_places reads besides places: a write to any of these changes the auth
    version (places.access: a user's memberships are kept across requests until then)."""
    from .models import Headquarters, WorkingGroup

    return [WorkingGroup.members.through._meta.db_table, WorkingGroup._meta.db_table, Headquarters._meta.db_table]


declare_membership("hq_member", _hq_places, _hq_tables)
