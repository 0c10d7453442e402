import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from fangkong.audit.actions import set_context
from fangkong.core.retention import purge


class Command(BaseCommand):
    help = ("Clear the personal data past its retention (FANGKONG_RETAIN_HEALTH_DAYS, FANGKONG_RETAIN_LINK_DAYS): "
            "fangkong purge-retention [--now ISO] [--dry-run]. The worker runs it daily by itself.")

    def add_arguments(self, parser):
        parser.add_argument("--now", help="as of this moment (ISO 8601, e.g. 2026-07-01T03:00); default: now")
        parser.add_argument("--dry-run", action="store_true", help="count what would be cleared, change nothing")

    def handle(self, *args, now=None, dry_run=False, **opts):
        set_context(ip="cli")
        when = None
        if now:
            try:
                when = dt.datetime.fromisoformat(now)
            except ValueError:
                raise CommandError(f"--now: not an ISO date or time: {now!r}") from None
            if timezone.is_naive(when):
                when = timezone.make_aware(when)
        for key, counts in purge(when, dry_run=dry_run).items():
            self.stdout.write(f"{key}: " + " ".join(f"{k}={v}" for k, v in counts.items())
                              + (" (dry run)" if dry_run else ""))
