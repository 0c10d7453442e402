"""Permissions of the notifications (merged into fangkong.places.access at start-up)."""
from fangkong.places.access import declare

declare(perms={
    # Configure webhook/e-mail channels, see and retry failed deliveries (admin).
    "notify.manage": set(),
})
