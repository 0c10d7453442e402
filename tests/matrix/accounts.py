"""Matrix objects of staff accounts: a grid worker's account managed from grid A1, and an
onboarding job of grid A1 (done, with one row); the one-time sign-in page's token."""
from __future__ import annotations

from fangkong.accounts.models import OnboardingJob, OnboardingRow, StaffProfile
from tests.cast import make_user


def profile(cast):
    user = make_user(f"matrix_staff_{StaffProfile.objects.count()}", [("grid_worker", cast.grid_a1)])
    return user.staff_profile


def job(cast):
    j = OnboardingJob.objects.create(created_by=cast.admin, place=cast.grid_a1, place_path=cast.grid_a1.path,
                                     file_name="矩阵.csv", stored_path="/nonexistent.csv", file_format="csv",
                                     status=OnboardingJob.Status.DONE, total_rows=1, processed_rows=1, error_count=1)
    OnboardingRow.objects.create(job=j, row=2, outcome="error", column="手机号", reason="matrix")
    return j


OBJECTS = {StaffProfile: profile, OnboardingJob: job}
URL_KWARGS = {"signin_link": lambda objects: {"token": "not-a-valid-token-0123456789abcdef"}}
