"""The Chinese translation is complete, compiled, and served by default.

The .po is parsed by the small reader below (standard library only) and compared with the
committed .mo as gettext itself loads it, so a catalogue edited without running
`django-admin compilemessages` fails here.
"""
from __future__ import annotations

import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fangkong"
LC_MESSAGES = PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"
# The project catalogue and one per app that keeps its own (fangkong/<app>/locale/...).
CATALOGUES = [PO] + sorted(PACKAGE.glob("*/locale/zh_Hans/LC_MESSAGES/django.po"))

# --- A minimal PO reader --------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(text: str, where: str) -> str:
    text = text.strip()
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        raise ValueError(f"{where}: expected a quoted string, got {text!r}")

    def sub(m):
        s = m.group(1)
        if s in _ESCAPES:
            return _ESCAPES[s]
        if s[0] in "01234567":
            return chr(int(s, 8))
        raise ValueError(f"{where}: unknown escape \\{s}")

    return re.sub(r"\\([0-7]{1,3}|.)", sub, text[1:-1])


@dataclass
class Entry:
    line: int
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # plural index -> text; 0 alone if singular
    flags: set[str] = field(default_factory=set)
    source: str = ""

    @property
    def key(self) -> str:
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"


def parse_po(path: Path) -> list[Entry]:
    """The entries of a PO file, header included (msgid ""); obsolete (#~) entries left out."""
    entries: list[Entry] = []
    cur: Entry | None = None
    target: tuple[str, int | None] | None = None  # which string continuation lines extend

    def finish():
        nonlocal cur, target
        if cur is not None and target is not None:
            entries.append(cur)
        cur, target = None, None

    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        where = f"{path.name}:{n}"
        if not line:
            finish()
            continue
        if line.startswith("#"):
            if target is not None and target[0] in ("msgstr",):
                finish()  # a comment after msgstr starts the next entry
            if cur is None:
                cur = Entry(line=n)
            if line.startswith("#,"):
                cur.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            continue
        if line.startswith('"'):
            if cur is None or target is None:
                raise ValueError(f"{where}: string continuation outside an entry")
            kind, idx = target
            text = _unquote(line, where)
            if kind == "msgstr":
                cur.msgstr[idx] += text
            else:
                setattr(cur, kind, getattr(cur, kind) + text)
            continue
        m = re.match(r"(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(.*)$", line)
        if not m:
            raise ValueError(f"{where}: cannot read {raw!r}")
        kind, idx, rest = m.group(1), m.group(2), m.group(3)
        if kind in ("msgctxt", "msgid") and target is not None and target[0] == "msgstr":
            finish()
        if cur is None:
            cur = Entry(line=n)
        text = _unquote(rest, where)
        if kind == "msgstr":
            i = int(idx) if idx is not None else 0
            cur.msgstr[i] = text
            target = ("msgstr", i)
        else:
            setattr(cur, kind, text)
            target = (kind, None)
    finish()
    return entries


def header_fields(entries: list[Entry]) -> dict[str, str]:
    header = next(e for e in entries if e.msgid == "" and e.msgctxt is None)
    out = {}
    for line in header.msgstr[0].splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def _label(e: Entry) -> str:
    return f"{e.source}:{e.line} {e.msgid!r}"


_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")


def _placeholders(text: str) -> list[str]:
    return sorted(m.group(0) for m in _PLACEHOLDER.finditer(text) if m.group(0) != "%%")


@pytest.fixture(scope="module", params=CATALOGUES, ids=lambda p: str(p.relative_to(PACKAGE)))
def entries(request):
    po = request.param
    assert po.exists(), f"{po} is missing: run makemessages -l zh_Hans"
    out = parse_po(po)
    for e in out:
        e.source = str(po.relative_to(PACKAGE))
    return out


@pytest.fixture
def mo_path(entries):
    return PACKAGE / entries[0].source.replace(".po", ".mo")


# --- (a) complete ---------------------------------------------------------------------

def test_header(entries):
    h = header_fields(entries)
    assert h.get("Language") == "zh_Hans"
    assert h.get("Content-Type") == "text/plain; charset=UTF-8"
    assert h.get("Plural-Forms", "").replace(" ", "") == "nplurals=1;plural=0;"
    header = next(e for e in entries if e.msgid == "")
    assert "fuzzy" not in header.flags


def test_every_entry_translated_and_not_fuzzy(entries):
    messages = [e for e in entries if e.msgid != ""]
    if messages[0].source == str(PO.relative_to(PACKAGE)):
        assert len(messages) > 100, "the catalogue looks truncated"
    assert messages, "an empty catalogue"
    fuzzy = [_label(e) for e in messages if "fuzzy" in e.flags]
    assert not fuzzy, "fuzzy entries:\n" + "\n".join(fuzzy)
    empty = [_label(e) for e in messages if not e.msgstr or any(not s.strip() for s in e.msgstr.values())]
    assert not empty, "untranslated entries:\n" + "\n".join(empty)


def test_plural_entries_have_one_form(entries):
    bad = [_label(e) for e in entries if e.msgid_plural is not None and sorted(e.msgstr) != [0]]
    assert not bad, "Chinese has one plural form (msgstr[0] only):\n" + "\n".join(bad)


def test_placeholders_kept(entries):
    """%(name)s and friends: the same set in msgid and msgstr (a lost or renamed one is a
    KeyError at run time, or a number missing from the sentence)."""
    bad = []
    for e in entries:
        if e.msgid == "":
            continue
        wanted = set(_placeholders(e.msgid)) | set(_placeholders(e.msgid_plural or ""))
        for s in e.msgstr.values():
            if set(_placeholders(s)) != wanted:
                bad.append(f"{_label(e)}: {_placeholders(s)} != {sorted(wanted)}")
    assert not bad, "\n".join(bad)


def test_msgids_unique(entries):
    seen, dup = set(), []
    for e in entries:
        if e.key in seen:
            dup.append(_label(e))
        seen.add(e.key)
    assert not dup, "\n".join(dup)


# --- (b) compiled ---------------------------------------------------------------------

def test_mo_matches_po(entries, mo_path):
    """The committed .mo holds exactly the .po's translations (a stale .mo fails)."""
    MO = mo_path
    assert MO.exists(), f"{MO} is missing: run `django-admin compilemessages` in fangkong/"
    with open(MO, "rb") as fh:
        catalog = dict(gettext.GNUTranslations(fh)._catalog)
    mo_header = catalog.pop("", "")
    expected = {}
    for e in entries:
        if e.msgid == "" or "fuzzy" in e.flags:
            continue
        if e.msgid_plural is None:
            expected[e.key] = e.msgstr[0]
        else:
            for i, s in e.msgstr.items():
                expected[(e.key, i)] = s
    missing = sorted(str(k) for k in expected.keys() - catalog.keys())
    extra = sorted(str(k) for k in catalog.keys() - expected.keys())
    changed = sorted(str(k) for k in expected.keys() & catalog.keys() if expected[k] != catalog[k])
    assert not (missing or extra or changed), (
        "the .mo is stale; run `django-admin compilemessages` in fangkong/\n"
        f"missing from .mo: {missing[:10]}\nonly in .mo: {extra[:10]}\ndifferent: {changed[:10]}"
    )
    # The header fields that change behaviour (dates may differ after a no-op makemessages).
    po_h = header_fields(entries)
    mo_h = {k.strip(): v.strip() for k, v in (ln.split(":", 1) for ln in mo_header.splitlines() if ":" in ln)}
    for key in ("Content-Type", "Plural-Forms", "Language"):
        assert mo_h.get(key) == po_h.get(key), f"header {key}: .mo {mo_h.get(key)!r} != .po {po_h.get(key)!r}"


def test_parser_reads_multiline_plural_and_fuzzy(tmp_path):
    po = tmp_path / "x.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: zh_Hans\\n"\n\n'
        '#: a.py:1\n#, fuzzy, python-format\nmsgid ""\n"a \\"b\\" "\n"%(n)s c"\nmsgstr "甲"\n'
        '#: b.py:2\nmsgid "one"\nmsgid_plural "many"\nmsgstr[0] ""\n\n'
        'msgctxt "k"\nmsgid "x"\nmsgstr "\\t乙\\n"\n'
        '#~ msgid "gone"\n#~ msgstr "去"\n',
        encoding="utf-8",
    )
    es = parse_po(po)
    assert [e.msgid for e in es] == ["", 'a "b" %(n)s c', "one", "x"]
    assert "fuzzy" in es[1].flags and es[1].msgstr == {0: "甲"}
    assert es[2].msgid_plural == "many" and es[2].msgstr == {0: ""}
    assert es[3].key == "k\x04x" and es[3].msgstr[0] == "\t乙\n"
    assert header_fields(es) == {"Language": "zh_Hans"}


# --- (c) served -----------------------------------------------------------------------

@pytest.mark.django_db
def test_login_page_chinese_by_default_then_english(client):
    resp = client.get("/login/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "登录" in html
    assert "Sign in" not in html
    assert 'lang="zh-CN"' in html

    resp = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert resp.status_code == 302
    html = client.get("/login/").content.decode()
    assert "Sign in" in html
    assert "登录" not in html

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/login/"})
    assert "登录" in client.get("/login/").content.decode()


@pytest.mark.django_db
def test_validation_messages_in_chinese(client):
    """A translated message from Python code (not only templates) reaches the page."""
    resp = client.post("/login/", {"username": "nobody", "password": "wrong-password"})
    assert "用户名或密码错误" in resp.content.decode()
