from django.core.management.base import BaseCommand, CommandError

from fangkong.audit.actions import set_context
from fangkong.reports import actions


class Command(BaseCommand):
    help = ("Close a day of the daily report (keep its figures as they are now): fangkong close-day DATE [--now]. "
            "The worker closes every day at FANGKONG_REPORT_CLOSE on the next day by itself.")

    def add_arguments(self, parser):
        parser.add_argument("day", help="YYYY-MM-DD")
        parser.add_argument("--now", action="store_true", help="close it even if the day is not over yet")

    def handle(self, *args, day, now, **opts):
        set_context(ip="cli")
        try:
            d = actions.parse_day(day)
            closed = actions.close_day(acting_user=None, day=d, force_early=now)
        except actions.Invalid as exc:
            raise CommandError(f"day: {exc.errors['day']}") from None
        except actions.Conflict as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"closed {closed.day} at {closed.closed_at:%Y-%m-%d %H:%M}: "
                          f"{len(closed.snapshot['metrics'])} metrics, {len(closed.snapshot['entered'])} units' figures")
