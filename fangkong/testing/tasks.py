"""Background work of the testing app, run by the Huey worker."""
from huey import crontab

from fangkong.lib.queue import periodic


@periodic(crontab(hour="1", minute="40"))
def ensure_registration_partitions():
    """Daily (PostgreSQL): the testing registrations' monthly partitions of this month and
    the next two exist (testing.maintenance.ensure_partitions); nothing on SQLite."""
    from .maintenance import ensure_partitions

    return ensure_partitions()
