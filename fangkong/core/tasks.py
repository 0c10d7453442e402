"""Background work of the core app, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic


@periodic(crontab(hour="2", minute="50"))
def purge_retention():
    """Daily: clear the personal data past its retention (core.retention)."""
    from .retention import purge

    return purge()
