"""Roles and permissions of people on duty (M1 rosters and teams, M10 deployed cadres and
volunteers) (merged into fangkong.places.access at start-up)."""
from django.utils.translation import gettext_lazy as _

from fangkong.places.access import declare

declare(
    roles={
        # Community or compound: gate duty, patrols, revisits of people under observation.
        "police": _("Police"),
        # The one responsible person of a site's working group: a grant over the site.
        "site_lead": _("Site responsible person"),
    },
    perms={
        # One's own shifts, check-in/out, daily health check-in, open slots to take.
        "duty.self": {"volunteer", "police", "site_lead"},
        # Sites' boards, shifts, reviews and figures.
        "duty.view": {"commander", "coordinator", "committee", "site_lead", "medic"},
        # Deploy people, build the schedule, assign, take suggestions.
        "duty.manage": {"committee", "site_lead"},
        # Clear a person taken off duty for fever or symptoms.
        "duty.clear": {"medic"},
        # Told of late or missing check-ins and of people unwell on duty.
        "duty.alerted": {"site_lead", "medic"},
        # The sending organization's view of its own people.
        "duty.sender": {"unit_liaison"},
        # A street's settings for people on duty (may its police issue temporary passes?).
        "duty.street_settings": {"coordinator"},
        # The police issue a temporary pass in their community or compound, where their
        # street allows it (StreetSetting); the pass itself is the passes module's.
        "duty.police_pass": {"police"},
        # Grid rosters and teams.
        "duty.roster_view": {"commander", "coordinator", "committee", "grid_worker", "police"},
        "duty.roster_manage": {"coordinator", "committee"},
    },
    # The police staff gates with the guards and revisit people under observation (their
    # temperature reports) in their community or compound.
    extend={
        "gates.enter": {"police"},
        "observation.view": {"police"},
        "observation.report": {"police"},
    },
)
