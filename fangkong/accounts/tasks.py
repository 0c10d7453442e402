from django.contrib.auth import get_user_model
from huey import crontab
from huey.contrib.djhuey import db_task

from fangkong.lib.queue import periodic


@db_task(retries=2, retry_delay=5)
def onboard_task(job_id: int, user_id: int):
    """Onboards a staff list (resumes after a worker crash and retry)."""
    from .models import OnboardingJob
    from .onboarding import run

    job = OnboardingJob.objects.get(pk=job_id)
    if job.status != OnboardingJob.Status.DONE:
        run(job, acting_user=get_user_model().objects.get(pk=user_id))


@periodic(crontab(minute="1"))
def apply_grant_dates_task():
    from .actions import apply_grant_dates

    apply_grant_dates()
