"""Retention: personal data the epidemic no longer needs is cleared (DESIGN §3, issue 15
item 10). Every module registers its rule (fangkong.lib.registry.register_retention); purge
runs them all, each on its own (a failing rule does not stop the others), and logs and
audits what it did as counts only, never the data."""
from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from fangkong.audit.actions import record
from fangkong.lib import registry

log = logging.getLogger(__name__)


def purge(now: dt.datetime | None = None, *, dry_run: bool = False, health_days: int | None = None,
          link_days: int | None = None) -> dict[str, dict[str, int]]:
    """Run every registered retention rule as of `now` (default: now): {rule key: counts}.
    Defaults: FANGKONG_RETAIN_HEALTH_DAYS and FANGKONG_RETAIN_LINK_DAYS. Each rule commits in
    batches of its own; with dry_run nothing is changed and the counts say what would be."""
    now = now or timezone.now()
    health_days = settings.RETAIN_HEALTH_DAYS if health_days is None else health_days
    link_days = settings.RETAIN_LINK_DAYS if link_days is None else link_days
    out: dict[str, dict[str, int]] = {}
    for rule in registry.retention_rules():
        try:
            counts = rule.run(now, health_days=health_days, link_days=link_days, dry_run=dry_run)
        except Exception:
            log.exception("retention: %s failed", rule.key)
            record(None, "core.retention", outcome="failed", detail={"rule": rule.key})
            out[rule.key] = {"failed": 1}
            continue
        counts = {k: int(v) for k, v in counts.items()}
        out[rule.key] = counts
        log.info("retention: %s %s%s", rule.key, " ".join(f"{k}={v}" for k, v in counts.items()),
                 " (dry run)" if dry_run else "")
        if not dry_run:
            record(None, "core.retention", detail={"rule": rule.key, **counts, "health_days": health_days,
                                                   "link_days": link_days})
    return out
