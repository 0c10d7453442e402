"""Permissions of the health passes (M6) (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    # A guard verifies tokens (colour and masked name only); an override of the derived
    # colour needs a second person to approve it.
    "passes.view": {"commander", "committee", "grid_worker", "medic"},
    "passes.issue": {"committee", "grid_worker"},
    "passes.override": {"committee", "medic"},
    "passes.approve_override": {"commander", "committee", "medic"},
    "passes.verify": {"gate_guard", "committee", "medic"},
})
