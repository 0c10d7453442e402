"""Roles and permissions of disinfection (M12) (merged into fangkong.places.access at start-up).

`property` is the property-service staff of a compound (granted on the compound): it keeps
the compound's disinfection targets, logs its rounds and collects the isolated households'
waste."""
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import declare

declare(
    roles={"property": _("Property staff")},
    perms={
        # The board, the targets and their rounds.
        "disinfection.view": {"commander", "coordinator", "committee", "property"},
        # Log a round (scan a target's code or pick it from the list). Volunteers who do
        # rounds are granted `property` on their compound (the committee may delegate it):
        # a volunteer's own grant is on its site, which holds no targets.
        "disinfection.log": {"committee", "property"},
        # Keep targets: add, generate for a compound, import, print the QR sheets.
        "disinfection.manage": {"coordinator", "committee", "property"},
        # Told of case-triggered rounds and of overdue key-area and case rounds.
        "disinfection.alerted": {"committee", "property"},
    },
)
