"""fangkong purge-audit [--older-than DAYS]: remove the audit events of whole months older
than the retention age (FANGKONG_AUDIT_RETENTION_DAYS). Run it with the database owner's
rights (on PostgreSQL the application's role may not delete audit events); the application
itself never deletes them."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from fangkong.audit.maintenance import purge


class Command(BaseCommand):
    help = "Remove audit events of whole months older than the retention age (database owner's rights)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=None, metavar="DAYS",
                            help="retention age in days (default FANGKONG_AUDIT_RETENTION_DAYS)")
        parser.add_argument("--database", default="default")

    def handle(self, *args, older_than=None, database="default", **options):
        days = settings.AUDIT_RETENTION_DAYS if older_than is None else older_than
        if days < 30:
            raise CommandError("--older-than must be at least 30 days")
        cutoff, deleted = purge(older_than_days=days, now=timezone.now(), using=database)
        self.stdout.write(f"audit events before {cutoff:%Y-%m-%d}: {deleted} removed")
