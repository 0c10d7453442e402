"""Matrix objects of private uploads: a photo of a grid-watch finding about person A1."""
from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from fangkong.uploads import actions
from fangkong.uploads.models import Attachment

from .declarations import finding


def png(size=(8, 6), colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def attachment(cast):
    return actions.attach(acting_user=cast.worker_a1, owner=finding(cast),
                          file=SimpleUploadedFile("现场.png", png(), content_type="image/png"))


OBJECTS = {Attachment: attachment}
