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


def _hq_places(user) -> list[tuple[int, str]]:
    """The places of the headquarters whose working groups `user` belongs to now (the
    leader is a member): its hq_member role holds there, for as long as it stays a member."""
    from .models import WorkingGroup

    return list(WorkingGroup.objects.filter(members=user).values_list("hq__place_id", "hq__place__path").distinct())


declare_membership("hq_member", _hq_places)
