"""Every translatable string of the code and templates has a Chinese translation.

The strings are extracted the way `django-admin makemessages` does (it runs here, on a
temporary copy of the package, so no catalogue is touched) and compared with all catalogues
merged: the project's and each app's. A string marked for translation that no catalogue
holds would show in English inside the Chinese pages.

Needs GNU gettext (xgettext, msguniq, msgmerge); `.ci/run` installs it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_i18n import CATALOGUES, PACKAGE, parse_po

SOURCES = (".py", ".html", ".txt")


def _extract(tmp: Path) -> list:
    """The entries makemessages extracts from the package (msgstr all empty)."""
    for p in PACKAGE.rglob("*"):
        rel = p.relative_to(PACKAGE)
        if p.is_file() and p.suffix in SOURCES and "locale" not in rel.parts and "__pycache__" not in rel.parts:
            target = tmp / "fangkong" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)
    (tmp / "locale").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    django_admin = [sys.executable, "-m", "django"]
    done = subprocess.run(
        [*django_admin, "makemessages", "-l", "zh_Hans", "--no-location", "--no-wrap"],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    po = tmp / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    assert po.exists(), done.stdout + done.stderr
    return [e for e in parse_po(po) if e.msgid != ""]


def _translated() -> set[str]:
    keys = set()
    for po in CATALOGUES:
        for e in parse_po(po):
            if e.msgid and "fuzzy" not in e.flags and e.msgstr and all(s.strip() for s in e.msgstr.values()):
                keys.add(e.key)
    return keys


def _show(key: str) -> str:
    if "\x04" in key:
        ctx, msgid = key.split("\x04", 1)
        return f"msgctxt {ctx!r} msgid {msgid!r}"
    return f"msgid {key!r}"


@pytest.mark.django_db  # (the suite's autouse fixtures clear the cache table of the test database)
@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed (apt-get install gettext)")
def test_every_extracted_string_is_translated(tmp_path):
    extracted = _extract(tmp_path)
    assert len(extracted) > 500, "the extraction found too few strings"
    have = _translated()
    missing = sorted({e.key for e in extracted} - have)
    assert not missing, (
        f"{len(missing)} translatable strings have no Chinese translation in any catalogue "
        "(add them to the app's fangkong/<app>/locale/zh_Hans/LC_MESSAGES/django.po, or the "
        "project's fangkong/locale/... for project templates, then compilemessages):\n"
        + "\n".join(_show(k) for k in missing)
    )
