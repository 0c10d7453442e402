"""Where an uploaded list waits between the upload and the worker that reads it.

The app server that takes the upload writes it to settings.IMPORT_DIR and reads its first
rows there (the job's headers). The worker that runs the job may be on another machine, so
the file must be where every machine sees it: IMPORT_DIR on a shared mount
(FANGKONG_SHARED_DIR), or, when an "imports" storage is configured (settings.STORAGES,
an S3-compatible bucket with FANGKONG_S3_BUCKET), in that storage. Then the job records
"storage:<name>", and the worker reads a temporary local copy (the readers, openpyxl's
included, need a file).
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "storage:"
ALIAS = "imports"


def _storage():
    from django.conf import settings
    from django.core.files.storage import storages

    return storages[ALIAS] if ALIAS in settings.STORAGES else None


def keep(local: Path) -> str:
    """The stored_path a job records for the uploaded file at `local` (already inspected):
    `local` itself, or, with an imports storage, the file moved into it."""
    storage = _storage()
    if storage is None:
        return str(local)
    with open(local, "rb") as f:
        name = storage.save(Path(local).name, f)
    Path(local).unlink(missing_ok=True)
    return PREFIX + name


@contextlib.contextmanager
def local_file(stored_path: str) -> Iterator[Path]:
    """A local path of a job's file for as long as the block runs (a temporary copy of a
    file in the imports storage, deleted after)."""
    if not stored_path.startswith(PREFIX):
        yield Path(stored_path)
        return
    storage = _storage()
    if storage is None:
        raise FileNotFoundError(f"{stored_path}: no imports storage is configured")
    name = stored_path[len(PREFIX):]
    with tempfile.TemporaryDirectory(prefix="fangkong-import-") as tmp:
        path = Path(tmp) / Path(name).name
        with storage.open(name, "rb") as src, open(path, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        yield path


def delete(stored_path: str) -> bool:
    """Delete a job's file from the imports storage; False when it is not kept there."""
    if not stored_path.startswith(PREFIX):
        return False
    storage = _storage()
    if storage is not None:
        storage.delete(stored_path[len(PREFIX):])
    return True
