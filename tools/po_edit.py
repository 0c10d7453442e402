"""Small edits of the zh_Hans catalogues without extra packages (used while fixing
ambiguous messages): set the translation of a message everywhere it stands without context,
or add a message with its context to one catalogue."""
from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fangkong"
CATALOGUES = [PACKAGE / "locale/zh_Hans/LC_MESSAGES/django.po"] + sorted(PACKAGE.glob("*/locale/zh_Hans/LC_MESSAGES/django.po"))


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def set_everywhere(msgid: str, msgstr: str) -> int:
    """msgstr of the uncontexted single-line entry msgid in every catalogue."""
    n = 0
    for po in CATALOGUES:
        text = po.read_text(encoding="utf-8")
        lines = text.split("\n")
        out = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if line == "msgid " + _q(msgid) and not (out and out[-1].startswith("msgctxt ")) \
                    and i + 1 < len(lines) and lines[i + 1].startswith("msgstr "):
                out += [line, "msgstr " + _q(msgstr)]
                i += 2
                while i < len(lines) and lines[i].startswith('"'):
                    i += 1
                n += 1
                continue
            out.append(line)
            i += 1
        po.write_text("\n".join(out), encoding="utf-8")
    return n


def add(po_rel: str, ctx: str | None, msgid: str, msgstr: str, comment: str = "") -> None:
    po = PACKAGE / po_rel
    text = po.read_text(encoding="utf-8").rstrip("\n") + "\n\n"
    head = (f"#. {comment}\n" if comment else "") + (f"msgctxt {_q(ctx)}\n" if ctx is not None else "")
    key = head + f"msgid {_q(msgid)}\n"
    if (f"msgctxt {_q(ctx)}\nmsgid {_q(msgid)}\n" if ctx is not None else f"\nmsgid {_q(msgid)}\n") in text:
        return
    po.write_text(text + key + f"msgstr {_q(msgstr)}\n", encoding="utf-8")
