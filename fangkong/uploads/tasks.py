"""Background work of private uploads, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic
from . import actions


@periodic(crontab(hour="3", minute="40"))
def sweep():
    """Attachments of owners deleted behind their module's back, and files without a row."""
    return actions.sweep_orphans()
