"""fangkong rotate-keys [--batch N] [--check]: move every encrypted field to the current key
pair (FANGKONG_KEY_ID, FANGKONG_DATA_KEY, FANGKONG_INDEX_KEY) from the old ones still in
FANGKONG_OLD_KEYS, online and resumable (run it again after a stop); --check only says
which old key ids are still in use (exit status 1 while any is)."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fangkong.core.keys import remaining, rotate


class Command(BaseCommand):
    help = "Re-encrypt and re-index encrypted fields to the current key; --check: which old keys are in use."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=500)
        parser.add_argument("--check", action="store_true", help="only report the old key ids still in use")

    def handle(self, *args, batch, check, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        if not check:
            done = rotate(batch=batch, progress=self.stdout.write if options["verbosity"] > 1 else None)
            for label, n in done.items():
                self.stdout.write(f"{label}: {n} rows moved to key {settings.KEY_ID}")
        left = remaining()
        if left:
            for label, counts in left.items():
                self.stdout.write(f"{label}: " + ", ".join(f"key {k}: {n}" for k, n in sorted(counts.items())))
            raise CommandError("old keys still in use: keep them in FANGKONG_OLD_KEYS"
                               + ("" if check else " and run rotate-keys again"))
        old = sorted(settings.OLD_KEYS)
        self.stdout.write(f"every encrypted field is under key {settings.KEY_ID}"
                          + (f"; key(s) {', '.join(map(str, old))} may be retired: remove them from FANGKONG_OLD_KEYS"
                             if old else ""))
