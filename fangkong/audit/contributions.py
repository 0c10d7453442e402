"""What the audit app registers: the retention rule that detaches the audit trail's old
monthly partitions on PostgreSQL (FANGKONG_AUDIT_DETACH_MONTHS; 0, the default: never).
Detaching keeps every event (the audit stays append-only): the partition becomes a plain
table, append-only too, for a DBA to archive and drop. On SQLite the trail is one table and
the rule does nothing (`purge-audit` is the way to remove old months there)."""
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from fangkong.lib import registry


def _retention(now, *, health_days, link_days, dry_run=False):
    from .maintenance import detach_old

    return {"partitions_detached": len(detach_old(now, settings.AUDIT_DETACH_MONTHS, dry_run=dry_run))}


registry.register_retention(registry.RetentionRule(key="audit.partitions", label=_("Audit trail partitions"),
                                                   run=_retention))
