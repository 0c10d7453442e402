"""What the residents app tells the rest of the platform (fangkong.lib.registry): the
retention of its import jobs (the uploaded lists hold names, ID and phone numbers)."""
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry
from fangkong.lib.sheets.job import retention_run

from .models import ImportJob, ImportRowError

registry.register_retention(registry.RetentionRule(
    key="residents.import", label=_("Resident imports"),
    run=retention_run(ImportJob, lambda: ImportRowError.objects.all())))
