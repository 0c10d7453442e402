"""Background work of the core app, run by the Huey worker."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(hour="2", minute="50"))
def purge_retention():
    """Daily: clear the personal data past its retention (core.retention)."""
    from .retention import purge

    return purge()
