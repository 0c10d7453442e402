"""Roles and permissions of the jurisdiction tree: the roles every part of the platform shares (merged into fangkong.places.access at start-up)."""
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import declare

# The roles of DESIGN.md §2 that more than one module uses. A module that brings a role
# of its own declares it in its permissions.py (gate_guard: gates).
declare(
    roles={
        "admin": _("Administrator"),
        "commander": _("Commander"),
        "coordinator": _("Coordinator"),
        "committee": _("Residents' committee"),
        "grid_worker": _("Grid worker"),
        "medic": _("Medic"),
        "unit_liaison": _("Unit liaison"),
        "volunteer": _("Volunteer"),
        "resident": _("Resident"),
    },
    perms={
        "places.view": {"commander", "coordinator", "committee", "grid_worker", "medic"},
    },
)
