"""Background work of the passes module, run by the Huey worker."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import actions


@db_periodic_task(crontab(minute="*/5"))
def expire_passes():
    """Passes and colour overrides past their time become expired."""
    return actions.expire_passes()
