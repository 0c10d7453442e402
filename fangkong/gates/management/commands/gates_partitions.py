"""fangkong gates-partitions [--detach-months N] [--dry-run]: on PostgreSQL, make the gate
entries' monthly partitions of this month and the next two (what the worker's daily task
does) and, with --detach-months (default FANGKONG_GATE_ENTRY_DETACH_MONTHS; 0: none),
DETACH those of the months wholly older than that (what the retention rule does). Run it
as the table's owner. Nothing on SQLite (fangkong.lib.db.partitions_command)."""
from fangkong.gates import maintenance
from fangkong.lib.db.partitions_command import PartitionsCommand


class Command(PartitionsCommand):
    help = "PostgreSQL: create the gate entries' coming monthly partitions, detach old ones (table owner's rights)."
    label, setting, env = "gate entry", "GATE_ENTRY_DETACH_MONTHS", "FANGKONG_GATE_ENTRY_DETACH_MONTHS"
    maintenance = maintenance
