from django.contrib.auth import get_user_model
from huey import crontab
from huey.contrib.djhuey import db_task

from fangkong.lib.queue import periodic
from .importing import run_import
from .models import ImportJob


@db_task(retries=2, retry_delay=5)
def run_import_task(job_id: int, user_id: int):
    """Runs (or resumes, after a worker crash and retry) an import job."""
    job = ImportJob.objects.get(pk=job_id)
    if job.status == ImportJob.Status.DONE:
        return
    user = get_user_model().objects.get(pk=user_id)
    run_import(job, acting_user=user)


@periodic(crontab(minute="23"))
def abandon_stalled_imports_task():
    """Hourly: imports left unfinished for IMPORT_ABANDON_HOURS are abandoned."""
    from .importing import abandon_stalled

    abandon_stalled()
