"""Private uploads (fangkong.uploads) through HTTP, on the first attachable record: a
grid-watch finding with photos. Files are checked by content, images re-encoded without
their metadata, stored in the private storage, served only to who sees the finding, and
removed with their row or their owner."""
from __future__ import annotations

import datetime as dt
import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from fangkong.audit.models import AuditEvent
from fangkong.declarations import actions as declarations
from fangkong.declarations.models import Finding
from fangkong.uploads import actions
from fangkong.uploads.models import Attachment, private_storage
from fangkong.places.access import has_perm
from tests.matrix.uploads import png

OWNER = "declarations.finding"


def as_user(user) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(user)
    return client


def jpeg_with_gps(size=(64, 48)) -> bytes:
    im = Image.new("RGB", size, (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    exif.get_ifd(0x8825)[2] = (39.0, 54.0, 27.0)  # GPSLatitude
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif.tobytes(), comment=b"secret comment")
    return out.getvalue() + b"<?php trailing payload ?>"


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height (8-bit grey) with a few compressed bytes of data:
    a decompression bomb's header."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100000)) + chunk(b"IEND", b"")


def upload(client, finding, content: bytes, name="photo.jpg", kind="photo", next="/back/", **headers):
    return client.post("/uploads/new/", {"owner_type": OWNER, "owner_id": finding.pk, "kind": kind, "next": next,
                                         "file": SimpleUploadedFile(name, content, content_type="image/jpeg")}, **headers)


def api_upload(client, finding, content: bytes, name="photo.jpg", kind="photo"):
    return client.post("/api/uploads", {"owner_type": OWNER, "owner_id": finding.pk, "kind": kind,
                                        "file": SimpleUploadedFile(name, content)})


def stored_files() -> list[Path]:
    root = Path(private_storage().location)
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def finding(cast):
    return declarations.record_finding(acting_user=cast.worker_a1, person=cast.person_a1, kind="travel",
                                       evidence="邻居反映其从风险地区返回未申报")


@pytest.mark.django_db
def test_a_photo_is_reencoded_without_metadata_and_served_only_within_the_finding_scope(cast, finding):
    w = as_user(cast.worker_a1)
    resp = upload(w, finding, jpeg_with_gps(), name="../../etc/现场 照片.JPG")
    assert resp.status_code == 302 and resp["Location"] == "/back/"
    att = Attachment.objects.get()
    assert (att.owner_type, att.owner_id, att.kind, att.place_path) == (OWNER, finding.pk, "photo", finding.place_path)
    assert att.name == "现场 照片.jpg" and att.content_type == "image/jpeg" and att.uploaded_by == cast.worker_a1
    # Stored under a random name in the private storage: not under the static files, not the user's name.
    path = Path(private_storage().path(att.storage_name))
    assert path.is_file() and "现场" not in att.storage_name and "etc" not in att.storage_name
    assert not str(path).startswith(str(settings.STATIC_ROOT)) and not str(path).startswith(str(settings.PACKAGE_DIR))
    data = path.read_bytes()
    assert b"PhoneMaker" not in data and b"secret comment" not in data and b"php" not in data
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG" and not im.getexif() and (im.width, im.height) == (48, 64)  # turned upright
    assert (att.width, att.height, att.size) == (48, 64, len(data))
    assert AuditEvent.objects.filter(action="uploads.attach", object_id=str(att.pk)).exists()

    for user in (cast.worker_a1, cast.committee_a, cast.commander):
        resp = as_user(user).get(f"/uploads/{att.pk}/")
        assert resp.status_code == 200, user
        assert b"".join(resp.streaming_content) == data
        assert resp["Content-Type"] == "image/jpeg"
        assert resp["Content-Disposition"].startswith("inline;") and "filename*=utf-8''" in resp["Content-Disposition"]
        assert resp["X-Content-Type-Options"] == "nosniff" and resp["Cache-Control"] == "private, no-store"
    thumb = as_user(cast.committee_a).get(f"/uploads/{att.pk}/?thumb=1")
    assert thumb.status_code == 200 and b"".join(thumb.streaming_content) == Path(private_storage().path(att.thumb_name)).read_bytes()
    # Another community: the same 404 as an unknown attachment; a role without it: 403.
    assert as_user(cast.committee_b).get(f"/uploads/{att.pk}/").status_code == 404
    assert as_user(cast.worker_b1).get(f"/uploads/{att.pk}/").status_code == 404
    assert as_user(cast.committee_a).get(f"/uploads/{att.pk + 1000}/").status_code == 404
    # (A role that may see other modules' attachments, as the medic may a resumption check's,
    # passes the route and finds no such attachment of its own: the same 404.)
    for user in (cast.medic_a, cast.guard_a, cast.liaison_x):
        assert as_user(user).get(f"/uploads/{att.pk}/").status_code == (404 if has_perm(user, "uploads.view") else 403)
    assert w.post(f"/uploads/{att.pk}/").status_code == 405
    assert w.get("/uploads/new/").status_code == 405
    assert Client().get(f"/uploads/{att.pk}/").status_code == 302  # to sign in

    # The finding's page shows the photo's thumbnail and the camera form to the worker.
    page = w.get(f"/declarations/findings/{finding.pk}/").content.decode()
    assert f"/uploads/{att.pk}/?thumb=1" in page and 'capture="environment"' in page and 'accept="image/*"' in page
    assert as_user(cast.committee_b).get(f"/declarations/findings/{finding.pk}/").status_code == 404


@pytest.mark.django_db
def test_large_photos_are_bounded_and_transparency_kept_as_png(cast, finding):
    out = io.BytesIO()
    Image.new("RGB", (4000, 1000), (0, 0, 0)).save(out, "JPEG")
    assert upload(as_user(cast.worker_a1), finding, out.getvalue()).status_code == 302
    out = io.BytesIO()
    Image.new("RGBA", (30, 20), (0, 0, 0, 0)).save(out, "WEBP")
    assert upload(as_user(cast.committee_a), finding, out.getvalue(), name="clear.webp").status_code == 302
    big, clear = Attachment.objects.order_by("pk")
    assert (big.width, big.height) == (2560, 640)
    assert Image.open(private_storage().path(big.thumb_name)).size == (320, 80)
    assert (clear.content_type, clear.name) == ("image/png", "clear.png")
    assert Image.open(private_storage().path(clear.storage_name)).mode == "RGBA"


@pytest.mark.django_db
@pytest.mark.parametrize("content, name, problem", [
    (b"<html><script>alert(1)</script></html>", "photo.jpg", "Not an image"),
    (b"PK\x03\x04" + b"\0" * 200, "photo.jpg", "Not an image"),
    (b"\0\0\0\x18ftypheic" + b"\0" * 100, "IMG_0001.HEIC", "HEIC"),
    (b"\xff\xd8\xff\xe0" + b"\0" * 100, "broken.jpg", "damaged"),
    (png_header(8000, 8000), "bomb.png", "too large"),
    (png_header(100_000, 100_000), "bomb.png", "too large"),
    (b"", "empty.jpg", "empty"),
])
def test_bad_files_are_refused_naming_the_file_and_nothing_is_stored(cast, finding, content, name, problem):
    w = as_user(cast.worker_a1)
    resp = api_upload(w, finding, content, name=name)
    assert resp.status_code == 422
    (error,) = resp.json()["detail"]
    assert error["field"] == "file" and problem in error["message"], error
    resp = upload(w, finding, content, name=name)
    assert resp.status_code == 400 and "flash error" in resp.content.decode()
    assert not Attachment.objects.exists() and stored_files() == []


@pytest.mark.django_db
def test_size_limit_and_documents(cast, finding, settings):
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    w = as_user(cast.worker_a1)
    resp = api_upload(w, finding, b"%PDF-1.4\n" + os.urandom(1024 * 1024), name="big.pdf", kind="document")
    assert resp.status_code == 422 and "larger than 1 MB" in resp.json()["detail"][0]["message"]
    resp = api_upload(w, finding, png(), name="x.png", kind="document")
    assert resp.status_code == 422 and "Not a PDF" in resp.json()["detail"][0]["message"]
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    resp = api_upload(w, finding, pdf, name="回执.pdf", kind="document")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert (body["kind"], body["content_type"], body["name"], body["thumb_url"]) == ("document", "application/pdf", "回执.pdf", None)
    resp = as_user(cast.committee_a).get(body["url"])
    assert resp.status_code == 200 and b"".join(resp.streaming_content) == pdf
    assert resp["Content-Disposition"].startswith("attachment;") and "%E5%9B%9E%E6%89%A7.pdf" in resp["Content-Disposition"]
    assert resp["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_the_api_attaches_lists_serves_and_removes_within_scope(cast, finding, django_capture_on_commit_callbacks):
    w = as_user(cast.worker_a1)
    resp = api_upload(w, finding, png())
    assert resp.status_code == 201
    att = Attachment.objects.get(pk=resp.json()["id"])
    assert resp.json()["url"] == f"/uploads/{att.pk}/" and resp.json()["thumb_url"] == f"/uploads/{att.pk}/?thumb=1"
    listed = as_user(cast.committee_a).get(f"/api/uploads?owner_type={OWNER}&owner_id={finding.pk}")
    assert listed.status_code == 200 and [a["id"] for a in listed.json()] == [att.pk]
    got = as_user(cast.commander).get(f"/api/uploads/{att.pk}")
    assert got.status_code == 200 and got["Cache-Control"] == "private, no-store"
    # Other community 404, wrong role 403, not signed in 401, unknown owner type 422.
    assert api_upload(as_user(cast.worker_b1), finding, png()).status_code == 404
    assert as_user(cast.committee_b).get(f"/api/uploads/{att.pk}").status_code == 404
    assert as_user(cast.committee_b).get(f"/api/uploads?owner_type={OWNER}&owner_id={finding.pk}").status_code == 404
    assert as_user(cast.worker_b1).delete(f"/api/uploads/{att.pk}").status_code == 404
    for user in (cast.medic_a, cast.guard_a, cast.liaison_x, cast.commander):
        assert api_upload(as_user(user), finding, png()).status_code == 403
    assert as_user(cast.guard_a).get(f"/api/uploads/{att.pk}").status_code == 403
    assert as_user(cast.medic_a).get(f"/api/uploads/{att.pk}").status_code == (404 if has_perm(cast.medic_a, "uploads.view") else 403)
    assert Client().get(f"/api/uploads/{att.pk}").status_code == 401
    resp = w.post("/api/uploads", {"owner_type": "residents.person", "owner_id": cast.person_a1.pk,
                                   "file": SimpleUploadedFile("a.png", png())})
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "owner"
    assert Attachment.objects.count() == 1
    files = att.files()
    with django_capture_on_commit_callbacks(execute=True):
        assert as_user(cast.committee_a).delete(f"/api/uploads/{att.pk}").status_code == 204
    assert not any(private_storage().exists(n) for n in files)
    att.refresh_from_db()
    assert att.removed_at is not None  # the trace stays: what it was, until the finding goes
    assert as_user(cast.committee_a).delete(f"/api/uploads/{att.pk}").status_code == 409
    assert as_user(cast.committee_a).get(f"/api/uploads/{att.pk}").status_code == 404
    assert as_user(cast.committee_a).get(f"/api/uploads?owner_type={OWNER}&owner_id={finding.pk}").json() == []
    assert AuditEvent.objects.filter(action="uploads.detach", object_id=str(att.pk)).exists()


@pytest.mark.django_db
def test_a_decided_finding_keeps_its_photos(cast, finding, django_capture_on_commit_callbacks):
    w = as_user(cast.worker_a1)
    assert upload(w, finding, png()).status_code == 302
    att = Attachment.objects.get()
    declarations.decide_finding(acting_user=cast.committee_a, finding=finding, action="confirm")
    resp = upload(w, finding, png(), HTTP_X_FANGKONG_PARTIAL="1")
    assert resp.status_code == 409 and "can no longer be changed" in resp.content.decode()
    assert w.post(f"/uploads/{att.pk}/remove/").status_code == 409
    assert as_user(cast.committee_a).delete(f"/api/uploads/{att.pk}").status_code == 409
    assert Attachment.objects.count() == 1
    page = w.get(f"/declarations/findings/{finding.pk}/").content.decode()
    assert f"/uploads/{att.pk}/?thumb=1" in page and 'name="file"' not in page


@pytest.mark.django_db
def test_the_panel_answers_the_script_with_itself(cast, finding, django_capture_on_commit_callbacks):
    w = as_user(cast.worker_a1)
    resp = upload(w, finding, png(), HTTP_X_FANGKONG_PARTIAL="1")
    assert resp.status_code == 200
    html = resp.content.decode()
    att = Attachment.objects.get()
    assert html.lstrip().startswith('<section class="attachments"') and f"/uploads/{att.pk}/?thumb=1" in html
    with django_capture_on_commit_callbacks(execute=True):
        resp = w.post(f"/uploads/{att.pk}/remove/", {"next": "/elsewhere/"}, HTTP_X_FANGKONG_PARTIAL="1")
    assert resp.status_code == 200 and f"/uploads/{att.pk}/" not in resp.content.decode()
    assert stored_files() == []
    # An unsafe next falls back to the home page.
    assert upload(w, finding, png(), next="https://evil.example/").status_code == 302
    assert upload(w, finding, png(), next="https://evil.example/")["Location"] == "/"


@pytest.mark.django_db
def test_deleting_the_owner_deletes_its_files(cast, finding, django_capture_on_commit_callbacks):
    w = as_user(cast.worker_a1)
    for _i in range(2):
        assert upload(w, finding, png()).status_code == 302
    other = declarations.record_finding(acting_user=cast.worker_a1, person=cast.person_a1, kind="contact", evidence="x")
    assert upload(w, other, png()).status_code == 302
    assert len(stored_files()) == 6  # three photos and their thumbnails
    # The owning module's delete action calls detach_all in its transaction.
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.detach_all(acting_user=cast.committee_a, owner=finding) == 2
        Finding.objects.filter(pk=finding.pk).delete()
    assert len(stored_files()) == 2 and Attachment.objects.get().owner_id == other.pk
    # An owner deleted behind its module's back (bulk delete): the sweep finds its files.
    Finding.objects.filter(pk=other.pk).delete()
    assert len(stored_files()) == 2
    # ...and a file whose row never committed, once it is a day old.
    storage = private_storage()
    stray = storage.save("ab/abandoned.jpg", io.BytesIO(b"x"))
    young = storage.save("ab/young.jpg", io.BytesIO(b"x"))
    old = (dt.datetime.now() - dt.timedelta(days=2)).timestamp()
    os.utime(storage.path(stray), (old, old))
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.sweep_orphans() == {"attachments": 1, "files": 1}
    assert not Attachment.objects.exists()
    assert [p.name for p in stored_files()] == ["young.jpg"] and storage.exists(young)
