"""Roles and permissions of command (M17): headquarters and working groups, meetings and
their decisions, numbered notices with receipts, inspections and their findings, and the
state of every entrance (merged into fangkong.places.access at start-up)."""
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import declare

HQ = {"commander", "coordinator"}

declare(
    roles={"inspector": _("Inspector")},
    perms={
        # The HQ board, its groups, meetings and decisions: the headquarters' own staff.
        "command.view": HQ | {"inspector"},
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
                                  "gate_guard"},
        # Inspections: inspectors record findings (for their team's plans) and verify them.
        "command.inspect": {"inspector"},
        "command.inspections": HQ | {"inspector"},
        "command.rectify": {"committee", "unit_liaison"},  # the responsible party reports a finding fixed
        # Entrances: their state (open and guarded / sealed / emergency only).
        "command.points": HQ | {"committee", "gate_guard", "inspector"},
        "command.seal": HQ | {"committee"},
    },
)
