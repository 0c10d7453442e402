"""fangkong restore IN --to DATABASE_URL: restore a backup of `fangkong backup` into a new
SQLite file or an existing empty PostgreSQL database (the server stopped or pointed at
it afterwards). Needs FANGKONG_BACKUP_KEY, and the data keys to read the restored data."""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fangkong.core.backup import BackupError, restore


class Command(BaseCommand):
    help = "Restore an encrypted backup into a database given by URL."

    def add_arguments(self, parser):
        parser.add_argument("backup", help="the backup file")
        parser.add_argument("--to", required=True, metavar="DATABASE_URL",
                            help="sqlite:///path (a new file) or postgres://user@host:5432/db (created, empty)")
        parser.add_argument("--force", action="store_true", help="replace an existing SQLite file / objects")

    def handle(self, *args, backup, to, force, **options):
        if settings.BACKUP_KEY is None:
            raise CommandError("FANGKONG_BACKUP_KEY is not set")
        try:
            header = restore(Path(backup), key=settings.BACKUP_KEY, to=to, force=force)
        except (BackupError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"restored the {header['vendor']} backup of {header['taken_at']}")
