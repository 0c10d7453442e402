"""Permissions of the official documents (notices with a verification QR code) (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    # Scoped like their subject.
    "documents.view": {"commander", "coordinator", "committee", "grid_worker", "medic", "unit_liaison"},
    "documents.revoke": {"committee"},
})
