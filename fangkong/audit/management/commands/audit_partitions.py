"""fangkong audit-partitions [--detach-months N] [--dry-run]: on PostgreSQL, make the audit
trail's monthly partitions of this month and the next two (what the worker's daily task
does) and, with --detach-months (default FANGKONG_AUDIT_DETACH_MONTHS; 0: none), DETACH
those of the months wholly older than that (what the retention rule does). For a
deployment whose worker does not run as the table's owner: run this as the owner (cron).
Nothing on SQLite."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone

from fangkong.audit.maintenance import detach_old, ensure_partitions


class Command(BaseCommand):
    help = "PostgreSQL: create the audit trail's coming monthly partitions, detach old ones (table owner's rights)."

    def add_arguments(self, parser):
        parser.add_argument("--detach-months", type=int, default=None, metavar="N",
                            help="detach the months older than N months (default FANGKONG_AUDIT_DETACH_MONTHS)")
        parser.add_argument("--dry-run", action="store_true", help="only say which partitions would be detached")
        parser.add_argument("--database", default="default")

    def handle(self, *args, detach_months=None, dry_run=False, database="default", **options):
        if detach_months is not None and detach_months < 0:
            raise CommandError("--detach-months must be 0 (detach nothing) or more")
        if connections[database].vendor != "postgresql":
            self.stdout.write("audit partitions: only on PostgreSQL; nothing to do")
            return
        now = timezone.now()
        months = settings.AUDIT_DETACH_MONTHS if detach_months is None else detach_months
        created = [] if dry_run else ensure_partitions(now=now, using=database)
        detached = detach_old(now, months, dry_run=dry_run, using=database)
        self.stdout.write(f"audit partitions created: {', '.join(created) or 'none'}")
        self.stdout.write(f"audit partitions {'to detach' if dry_run else 'detached'}: {', '.join(detached) or 'none'}")
