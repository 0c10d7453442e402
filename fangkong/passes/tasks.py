"""Background work of the passes module, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic
from . import actions


@periodic(crontab(minute="*/5"))
def expire_passes():
    """Passes and colour overrides past their time become expired."""
    return actions.expire_passes()
