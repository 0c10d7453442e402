"""Roles and permissions of mass testing (M16) (merged into fangkong.places.access at start-up).

registrar: granted on a testing site (an organization of kind "site", or the site's place);
sees only what registration needs (name, masked ID, lane). lab: granted on the organization
of a named laboratory; posts results for the tubes it received."""
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import declare

declare(
    roles={"registrar": _("Registrar"), "lab": _("Laboratory")},
    perms={
        # Rounds, sites, coverage and recall lists in scope.
        "testing.view": {"commander", "coordinator", "committee", "medic"},
        # Plan rounds, sites, lanes and staff posts.
        "testing.manage": {"coordinator", "committee"},
        # Register persons into tubes, seal tubes, pack and hand over boxes.
        "testing.register": {"registrar"},
        # Results per tube (import or API), for tubes the lab received.
        "testing.results": {"lab", "coordinator"},
        # The recall list of a positive pool: mark each single test.
        "testing.recall": {"committee", "medic", "grid_worker"},
        # The door-knock list of persons not yet tested, with reasons.
        "testing.knock": {"committee", "grid_worker"},
        # The policy table: the pass colour of a positive pool's persons (the admin only).
        "testing.policy": set(),
    },
)
