"""fangkong audit-partitions [--detach-months N] [--dry-run]: on PostgreSQL, make the audit
trail's monthly partitions of this month and the next two (what the worker's daily task
does) and, with --detach-months (default FANGKONG_AUDIT_DETACH_MONTHS; 0: none), DETACH
those of the months wholly older than that (what the retention rule does). For a
deployment whose worker does not run as the table's owner: run this as the owner (cron).
Nothing on SQLite (fangkong.lib.db.partitions_command)."""
from fangkong.audit import maintenance
from fangkong.lib.db.partitions_command import PartitionsCommand


class Command(PartitionsCommand):
    help = "PostgreSQL: create the audit trail's coming monthly partitions, detach old ones (table owner's rights)."
    label, setting, env = "audit", "AUDIT_DETACH_MONTHS", "FANGKONG_AUDIT_DETACH_MONTHS"
    maintenance = maintenance
