"""What the accounts app registers: how a resident's personal link names a person (for
the access module's personal_link / link_auth markers), and the retention of the staff
lists it onboards."""
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.lib.sheets.job import retention_run
from fangkong.places.access import LinkResolver, register_link_resolver

from .actions import load_resident, resident_for_token, resident_id_for_token
from .models import OnboardingJob, OnboardingRow

register_link_resolver(LinkResolver(person=resident_for_token, person_id=resident_id_for_token, load=load_resident))

# The uploaded list goes when its job ends (lib.sheets.job); the rows that were not
# onboarded (errors, held, duplicates) after the health period.
registry.register_retention(registry.RetentionRule(
    key="accounts.onboarding", label=_("Staff lists"),
    run=retention_run(OnboardingJob, lambda: OnboardingRow.objects.exclude(outcome__in=("created", "granted")))))


# --- A person's page: hand over their personal link -----------------------------------

@registry.register_person_section
def person_personal_link(user, person):
    from django.urls import reverse

    from fangkong.places.access import may

    if not may(user, "residents.edit", person):
        return None
    return registry.PersonSection(key="link", title=_("Personal link"), order=10, actions=(registry.PersonAction(
        label=_("Issue the personal link"), url=reverse("person_link", args=[person.pk]), post=True, key="issue-link"),))
