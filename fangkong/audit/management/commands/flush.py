"""Django's flush (empty every table), with the audit trail's deletes allowed for its own
transaction: the test suite empties the database between transactional tests with it
(fangkong.audit.maintenance). Like purge-audit, an operator's command, never the app's."""
from django.core.management.commands.flush import Command as DjangoFlush

from fangkong.audit.maintenance import deletes_allowed


class Command(DjangoFlush):
    def handle(self, **options):
        with deletes_allowed(options.get("database") or "default"):
            return super().handle(**options)
