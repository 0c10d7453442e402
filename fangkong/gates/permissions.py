"""Roles and permissions of the gates (M6; a fever's triage is the clinic app's, M18) (merged into fangkong.places.access at start-up)."""
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import declare

declare(
    roles={"gate_guard": _("Gate guard")},
    perms={
        # Guards record entries at their checkpoints.
        "gates.enter": {"gate_guard"},
        # Guards issue a visitor's temporary pass on the spot (the police, who also staff
        # gates, issue one only where their street allows it: duty's police pass page).
        "gates.visitor": {"gate_guard"},
        "gates.view": {"commander", "coordinator", "committee", "medic"},
    },
)
