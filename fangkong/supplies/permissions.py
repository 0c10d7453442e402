"""Roles and permissions of supplies (M11) (merged into fangkong.places.access at start-up).

A storekeeper's grant names its holder: an organization grant (a station, a site, an
enterprise) or a place grant, which covers only the holder AT that place (the street's
warehouse, a compound's store), never the holders under it (Holder.SCOPE_EXACT)."""
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import declare

declare(
    roles={"storekeeper": _("Storekeeper")},
    perms={
        # See holders, their stock and ledger.
        "supplies.view": {"commander", "coordinator", "committee", "storekeeper"},
        # Move the stock of one's own holder: receive, send, issue, consume, write off, count.
        "supplies.keep": {"coordinator", "storekeeper"},
        # Ask one's holder's supplier for items.
        "supplies.request": {"storekeeper", "committee"},
        # Decide requests, allocate, set thresholds, manage holders and the catalogue.
        "supplies.manage": {"coordinator"},
        # Told of shortages.
        "supplies.alerted": {"coordinator", "storekeeper"},
    },
)
