"""Background work of private uploads, run by the Huey worker."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import actions


@db_periodic_task(crontab(hour="3", minute="40"))
def sweep():
    """Attachments of owners deleted behind their module's back, and files without a row."""
    return actions.sweep_orphans()
