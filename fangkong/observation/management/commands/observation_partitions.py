"""fangkong observation-partitions [--detach-months N] [--dry-run]: on PostgreSQL, make the
temperature reports' monthly partitions of this month and the next two (what the worker's
daily task does) and, with --detach-months (default
FANGKONG_OBSERVATION_REPORT_DETACH_MONTHS; 0: none), DETACH those of the months wholly
older than that (what the retention rule does). Run it as the table's owner. Nothing on
SQLite (fangkong.lib.db.partitions_command)."""
from fangkong.lib.db.partitions_command import PartitionsCommand
from fangkong.observation import maintenance


class Command(PartitionsCommand):
    help = "PostgreSQL: create the temperature reports' coming monthly partitions, detach old ones (table owner's rights)."
    label, setting, env = "report", "OBSERVATION_REPORT_DETACH_MONTHS", "FANGKONG_OBSERVATION_REPORT_DETACH_MONTHS"
    maintenance = maintenance
