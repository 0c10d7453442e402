"""The shape of a `<table>-partitions` command (audit-partitions, testing-partitions): on
PostgreSQL, make a partitioned table's monthly partitions of this month and the next two
(what the worker's daily task does) and, with --detach-months (default: the table's
setting; 0: none), DETACH those of the months wholly older than that (what the retention
rule does). For a deployment whose worker does not run as the table's owner: run it as the
owner (cron). Nothing on SQLite. A subclass names what it keeps in `label`, its setting in
`setting` (and `env`, the variable that sets it) and the app's `maintenance` module, whose
`ensure_partitions(now=, using=)` and `detach_old(now, months, dry_run=, using=)` the
worker's task and the retention rule run too."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone


class PartitionsCommand(BaseCommand):
    label = ""  # "audit": "audit partitions created: ..."
    setting = ""  # "AUDIT_DETACH_MONTHS"
    env = ""  # "FANGKONG_AUDIT_DETACH_MONTHS"

    maintenance = None  # the app's maintenance module

    def add_arguments(self, parser):
        parser.add_argument("--detach-months", type=int, default=None, metavar="N",
                            help=f"detach the months older than N months (default {self.env})")
        parser.add_argument("--dry-run", action="store_true", help="only say which partitions would be detached")
        parser.add_argument("--database", default="default")

    def handle(self, *args, detach_months=None, dry_run=False, database="default", **options):
        if detach_months is not None and detach_months < 0:
            raise CommandError("--detach-months must be 0 (detach nothing) or more")
        if connections[database].vendor != "postgresql":
            self.stdout.write(f"{self.label} partitions: only on PostgreSQL; nothing to do")
            return
        now = timezone.now()
        months = getattr(settings, self.setting) if detach_months is None else detach_months
        created = [] if dry_run else self.maintenance.ensure_partitions(now=now, using=database)
        detached = self.maintenance.detach_old(now, months, dry_run=dry_run, using=database)
        self.stdout.write(f"{self.label} partitions created: {', '.join(created) or 'none'}")
        self.stdout.write(f"{self.label} partitions {'to detach' if dry_run else 'detached'}: {', '.join(detached) or 'none'}")
