"""Permissions of private uploads (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    # The route-level permissions to see or attach files at all: held by whoever holds the
    # view / attach permission of a registered owner (uploads.register_owner extends them);
    # each file is then checked against its owner record with the owner's own permission.
    "uploads.view": set(),
    "uploads.attach": set(),
})
