"""What the residents app tells the rest of the platform (fangkong.lib.registry): the
transfer requests waiting for the committee where the person is registered (to-dos), and
the retention of its import jobs (the uploaded lists hold names, ID and phone numbers)."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.lib.sheets.job import retention_run
from fangkong.places.access import has_perm, scope

from .models import ImportJob, ImportRowError, Transfer


def todos(user):
    from django.urls import reverse

    if has_perm(user, "residents.transfer"):
        yield from registry.count_todo(
            scope(Transfer.objects.filter(state=Transfer.State.REQUESTED), user, "residents.transfer"),
            key="residents.transfer", label=_("Transfer requests for persons of your area"),
            url=reverse("transfer_list"))


registry.register_todo(todos)

registry.register_retention(registry.RetentionRule(
    key="residents.import", label=_("Resident imports"),
    run=retention_run(ImportJob, lambda: ImportRowError.objects.all())))


def _transfers(now, **kwargs):
    from .retention import run

    return run(now, **kwargs)


registry.register_retention(registry.RetentionRule(key="residents.transfer", label=_("Transfer requests"), run=_transfers))
