"""Import files in an imports storage (fangkong/lib/sheets/store.py; issue 22, item 1): with
settings.STORAGES["imports"] configured (an S3 bucket in production, FANGKONG_S3_BUCKET; here
a filesystem storage in its place), the server that takes an upload inspects it in its own
IMPORT_DIR and moves it to the storage; the worker reads a local copy; the file is deleted
from the storage when the job ends."""
import io

import pytest
from django.test import TestCase

from fangkong.residents.models import ImportJob, Person
from tests.cast import make_id, make_phone
from tests.test_import import csv_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def bucket(settings, tmp_path):
    settings.IMPORT_DIR = tmp_path / "local"
    settings.STORAGES = {**settings.STORAGES, "imports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "bucket"}}}
    return tmp_path / "bucket"


def test_an_upload_goes_to_the_imports_storage_and_the_worker_reads_it_from_there(cast, login, bucket, settings):
    committee = login(cast.committee_a)
    before = Person.objects.count()
    rows = [["存储" + "甲乙丙"[i], make_id(i, born="19920304"), make_phone(8100 + i), "甲一小区2号楼201室", "A1", ""] for i in range(3)]
    f = io.BytesIO(csv_bytes(rows))
    f.name = "居民.csv"
    resp = committee.post("/residents/import/", {"file": f, "place": cast.comm_a.pk})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    job = ImportJob.objects.latest("pk")
    assert job.stored_path.startswith("storage:")
    kept = list(bucket.iterdir())
    assert [p.name for p in kept] == [job.stored_path.removeprefix("storage:")]
    assert list(settings.IMPORT_DIR.iterdir()) == []  # moved, not copied
    with TestCase.captureOnCommitCallbacks(execute=True):
        resp = committee.post(f"/residents/import/{job.pk}/start/", {f"col_{k}": v for k, v in job.mapping.items()})
    assert resp.status_code == 302
    job.refresh_from_db()
    from fangkong.residents.models import ImportRowError

    assert (job.status, job.processed_rows, job.error_count) == ("done", 3, 0), list(ImportRowError.objects.values_list("reason", flat=True))
    assert Person.objects.count() == before + 3
    assert job.stored_path == "" and list(bucket.iterdir()) == []  # deleted from the storage when done
