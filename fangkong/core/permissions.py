"""Permissions of the platform's own pages (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    # The audit log, within the viewer's scope.
    "audit.view": {"commander"},
    # The state of the system itself (the worker's queue depth): the admin only.
    "core.system": set(),
})
