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

_import_retention = retention_run(ImportJob, lambda: ImportRowError.objects.all())


def _imports(now, *, dry_run: bool = False, **kwargs):
    """Imports left unfinished are abandoned first (their files and temporary rows go)."""
    from .importing import abandon_stalled

    if dry_run:
        import datetime as dt

        from django.conf import settings

        from fangkong.lib.sheets.job import UNFINISHED

        abandoned = ImportJob.objects.filter(status__in=UNFINISHED, updated_at__lt=now - dt.timedelta(
            hours=settings.IMPORT_ABANDON_HOURS)).count()
    else:
        abandoned = abandon_stalled(now=now)
    return {"abandoned": abandoned, **_import_retention(now, dry_run=dry_run, **kwargs)}


registry.register_retention(registry.RetentionRule(key="residents.import", label=_("Resident imports"), run=_imports))


def _transfers(now, **kwargs):
    from .retention import run

    return run(now, **kwargs)


registry.register_retention(registry.RetentionRule(key="residents.transfer", label=_("Transfer requests"), run=_transfers))
