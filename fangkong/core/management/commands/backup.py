"""fangkong backup OUT: one consistent, encrypted online backup of the database (the
server keeps running). Needs FANGKONG_BACKUP_KEY; the data keys are not in the backup."""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fangkong.core.backup import BackupError, backup


class Command(BaseCommand):
    help = "Encrypted online backup of the database (FANGKONG_BACKUP_KEY; data keys kept separately)."

    def add_arguments(self, parser):
        parser.add_argument("out", help="the backup file to write")
        parser.add_argument("--database", default="default")

    def handle(self, *args, out, database, **options):
        if settings.BACKUP_KEY is None:
            raise CommandError("FANGKONG_BACKUP_KEY is not set (base64 of 32 random bytes, kept apart from the data keys)")
        try:
            header = backup(Path(out), key=settings.BACKUP_KEY, using=database)
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"backup of the {header['vendor']} database written to {out} (encrypted). "
                          "The data keys are not in it: keep FANGKONG_DATA_KEY, FANGKONG_INDEX_KEY "
                          "(and FANGKONG_KEY_ID, FANGKONG_OLD_KEYS) safe separately.")
