"""Matrix objects of the resident registry: a person, a household and an import job in grid A1."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings

from fangkong.residents.models import Household, ImportJob, Person


def import_job(cast):
    settings.IMPORT_DIR.mkdir(parents=True, exist_ok=True)
    f = Path(settings.IMPORT_DIR) / "matrix.csv"
    f.write_text("姓名,身份证号\n", encoding="utf-8")
    return ImportJob.objects.create(created_by=cast.committee_a, place=cast.grid_a1, place_path=cast.grid_a1.path,
                                    file_name="matrix.csv", stored_path=str(f), file_format="csv", encoding="utf-8",
                                    headers=["姓名", "身份证号"], mapping={"0": "name", "1": "id_number"})


OBJECTS = {
    Person: lambda cast: cast.person_a1,
    Household: lambda cast: cast.hh_a1,
    ImportJob: import_job,
}
