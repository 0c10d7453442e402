"""What a person reads on the Chinese pages: no raw codes, Chinese punctuation in labels, and
every input named by a label.

Every page route (the access matrix's walk of the URL resolver, objects from tests/matrix) is
fetched in Chinese by the administrator and by one account per role (a grant over community A
and one over employer X), and each HTML answer is parsed:

* no role code, message type, organization or place kind, daily figure key, permission or
  audit action name stands in the visible text (an identifier meant to be shown as such is
  wrapped in <code>);
* no form label ends with an ASCII colon;
* every <input>/<select>/<textarea> a person fills in (not hidden, not a button) has a
  <label for>, sits inside a <label>, or carries aria-label / aria-labelledby.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from fangkong.accounts.actions import add_grant
from fangkong.places.access import all_perms, all_roles, has_perm
from tests import matrix
from tests.cast import make_user
from tests.test_access_matrix import declared, is_file_route, page_routes

# What a page says does not depend on the database: these run in one of the two runs of
# scripts/test only, the SQLite one, where the walk costs less than half (75 s against 167 s
# on PostgreSQL, 2026-12-06). It was in the PostgreSQL run to keep the two about as long
# beside the phone walk (tests/test_browser_layout.py); since both walks ask the server only
# about the routes the role holds the permission of, and skip files, the phone walk takes
# half its time and the PostgreSQL run was the longer one (2026-12-07: 30.2 min against
# 27.9 on a loaded machine).
pytestmark = pytest.mark.one_database

SKIP = {"logout", "set_language"}
UNNAMED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.labels_for: set[str] = set()
        self.ids: set[str] = set()
        self.fields: list[tuple[str, dict, bool]] = []  # (tag, attrs, inside a label)
        self.label_texts: list[str] = []
        self._label_depth = 0
        self._label_buf: list[str] = []
        self._skip = 0  # inside <script>/<style>/<code>/<template>

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if a.get("id"):
            self.ids.add(a["id"])
        if tag in ("script", "style", "code", "template"):
            self._skip += 1
        elif tag == "label":
            self._label_depth += 1
            self._label_buf = []
            if a.get("for"):
                self.labels_for.add(a["for"])
        elif tag in ("input", "select", "textarea"):
            if tag == "input" and a.get("type", "text").lower() in UNNAMED_TYPES:
                return
            self.fields.append((tag, a, self._label_depth > 0))
            if self._label_depth:
                self._label_buf.append("\x00")  # the label's own text ends here

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style", "code", "template"):
            self._skip -= 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code", "template"):
            self._skip = max(0, self._skip - 1)
        elif tag == "label" and self._label_depth:
            self._label_depth -= 1
            self.label_texts.append("".join(self._label_buf).split("\x00")[0].strip())

    def handle_data(self, data):
        if self._label_depth:
            self._label_buf.append(data)
        if not self._skip:
            self.text.append(data)

    def unnamed(self) -> list[str]:
        out = []
        for tag, a, in_label in self.fields:
            if in_label or a.get("aria-label", "").strip() or a.get("aria-labelledby", "").strip():
                continue
            if a.get("id") and a["id"] in self.labels_for:
                continue
            out.append(f"<{tag} name={a.get('name', '')!r} id={a.get('id', '')!r} type={a.get('type', '')!r}>")
        return out


def _codes(cast) -> set[str]:
    from fangkong.audit.models import AuditEvent
    from fangkong.lib import registry
    from fangkong.notify.models import Message
    from fangkong.places.models import Organization, Place
    from fangkong.reports.models import FigureDefinition

    codes = set(all_roles()) | set(all_perms()) | {m.key for m in registry.metrics()}
    codes |= set(Organization.Kind.values) | set(Place.Kind.values)
    codes |= set(Message.objects.values_list("kind", flat=True))
    codes |= set(AuditEvent.objects.values_list("action", flat=True))
    codes |= set(FigureDefinition.objects.values_list("key", flat=True))  # entered figures' keys
    return {c for c in codes if c}


def _users(cast):
    yield "admin", cast.admin
    for role in all_roles():
        if role == "admin":
            continue
        user = make_user(f"w_{role}")
        add_grant(acting_user=None, user=user, role=role, target=cast.comm_a)
        add_grant(acting_user=None, user=user, role=role, target=cast.orgs["org_x"])
        yield role, user


def _urls(cast):
    objects = matrix.build_objects(cast)
    kwargs = matrix.url_kwargs()
    for name, pattern, cb in page_routes():
        if name in SKIP or getattr(cb, "fk_personal_link", False) or is_file_route(pattern):
            continue
        model = getattr(cb, "fk_object", None)
        try:
            if name in kwargs:
                url = reverse(name, kwargs=kwargs[name](objects.get(model)))
            elif "<" in pattern:
                if model not in objects:
                    continue
                url = reverse(name, kwargs={"pk": objects[model].pk})
            else:
                url = reverse(name)
        except Exception:  # a route the matrix builds another way (personal links)
            continue
        yield name, url, declared(cb) == "fk_perm" and getattr(cb, "fk_perm", None)


def _some_activity(cast):
    """Rows on the pages that show codes: a message in every inbox of community A, a channel
    choosing kinds and roles, a room at the observation site (the audit trail is the cast's)."""
    from fangkong.notify import actions as notify
    from fangkong.observation.actions import add_room
    from fangkong.places.access import all_perms

    notify.notify(kind="gate.fever", title="发热提醒", body="卡口发现发热人员", perms=tuple(sorted(all_perms())),
                  place_path=cast.comm_a.path)
    notify.create_channel(acting_user=cast.admin, name="甲社区通道", kind="email", place=cast.comm_a,
                          target="a@example.org", secret="", kinds="gate.fever, observation.*, inflow.overdue",
                          roles=("committee", "grid_worker"))
    add_room(acting_user=None, site=cast.orgs["site"], number="001", capacity=2)


@pytest.fixture
def walked(cast):
    _some_activity(cast)
    pages = []
    urls = list(_urls(cast))
    for role, user in _users(cast):
        c = Client()
        c.force_login(user)
        for name, url, perm in urls:
            if perm and not has_perm(user, perm):
                continue  # refused (403: the access matrix checks it)
            resp = c.get(url)
            if resp.status_code != 200 or "text/html" not in resp.get("Content-Type", "") or getattr(resp, "streaming", False):
                continue
            p = Page()
            p.feed(resp.content.decode())
            pages.append((role, name, url, p))
    assert len(pages) > 100
    return pages


_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")


@pytest.mark.django_db
def test_pages_in_chinese_show_no_raw_codes_and_no_ascii_colons_and_every_input_is_labelled(cast, walked):
    from django.contrib.auth import get_user_model

    codes = _codes(cast)
    usernames = set(get_user_model().objects.values_list("username", flat=True))
    raw, colons, unnamed = set(), set(), set()
    for role, name, url, p in walked:
        text = " ".join(p.text)
        for tok in _TOKEN.findall(text):
            if tok in codes and tok not in usernames:
                raw.add(f"{name} ({url}, as {role}): {tok}")
        for label in p.label_texts:
            if label.endswith(":"):
                colons.add(f"{name} ({url}): <label>{label}</label>")
        for f in p.unnamed():
            unnamed.add(f"{name} ({url}): {f}")
    problems = []
    if raw:
        problems.append("raw codes in the Chinese text (give each a display name):\n" + "\n".join(sorted(raw)))
    if colons:
        problems.append("labels with an ASCII colon (label_suffix):\n" + "\n".join(sorted(colons)))
    if unnamed:
        problems.append("inputs without a label, aria-label or aria-labelledby:\n" + "\n".join(sorted(unnamed)))
    assert not problems, "\n\n".join(problems)


@pytest.mark.django_db
def test_rooms_say_what_their_numbers_mean(cast):
    from fangkong.observation.actions import add_room

    add_room(acting_user=None, site=cast.orgs["site"], number="001", capacity=2)
    c = Client()
    c.force_login(cast.admin)
    p = Page()
    p.feed(c.get("/observation/sites/").content.decode())
    text = " ".join(" ".join(p.text).split())
    assert "房间 001：已住 0 人，共 2 个床位" in text
    assert not re.search(r"\b001: ?0/2\b", text)


def _literals(pattern: str) -> set[str]:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "fangkong"
    rx = re.compile(pattern)
    return {m.group(1) for p in root.rglob("*.py") if "migrations" not in p.parts for m in rx.finditer(p.read_text("utf-8"))}


@pytest.mark.django_db  # (the suite's autouse fixtures clear the cache table of the test database)
def test_every_audit_action_and_message_kind_written_in_the_code_has_a_display_name():
    """Those a page walk may not meet: the literal action names of record(...) and the kinds
    of notify(...)/Alert(...) in the code (a new one fails here until it is named)."""
    from fangkong.audit.labels import ACTIONS, OUTCOMES
    from fangkong.notify.labels import KINDS

    actions = _literals(r"\brecord\(\s*[\w.]+,\s*\"([a-z_]+(?:\.[a-z_]+)+)\"")
    assert len(actions) > 50
    assert not sorted(actions - ACTIONS.keys()), "audit actions without a name in fangkong/audit/labels.py"
    outcomes = _literals(r"\boutcome=\"([a-z_]+)\"")
    assert not sorted(outcomes - OUTCOMES.keys()), "audit outcomes without a name in fangkong/audit/labels.py"
    kinds = _literals(r"\bkind=\"([a-z_]+(?:\.[a-z_]+)+)\"")
    assert not sorted(kinds - KINDS.keys()), "message kinds without a name in fangkong/notify/labels.py"
