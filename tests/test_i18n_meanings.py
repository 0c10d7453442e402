"""One English message, one meaning: a word used in two senses gets a context of its own.

Django merges every catalogue (the project's wins over the apps'), so the same msgid with two
different translations in two catalogues means one of the two pages shows the other's word.
"""
from __future__ import annotations

import re
from collections import defaultdict

import pytest
from django.test import Client

from tests.test_census import make_campaign
from tests.test_i18n import CATALOGUES, PACKAGE, parse_po

pytestmark = pytest.mark.django_db  # (the suite's autouse fixtures clear the cache table of the test database)


def test_no_message_has_two_translations_across_catalogues():
    seen = defaultdict(set)
    where = defaultdict(list)
    for po in CATALOGUES:
        for e in parse_po(po):
            if not e.msgid or "fuzzy" in e.flags:
                continue
            text = e.msgstr.get(0, "")
            seen[e.key].add(text)
            where[e.key].append(f"{po.relative_to(PACKAGE).parts[0]}: {text!r}")
    clashes = [f"{k!r} -> " + ", ".join(where[k]) for k in sorted(seen) if len(seen[k]) > 1]
    assert not clashes, (
        "the same message translated differently in two catalogues (Django shows only one of them "
        "everywhere); give each meaning its own context (pgettext / {% trans ... context %}) or "
        "use one translation:\n" + "\n".join(clashes)
    )


# Words with several meanings on the pages, and the context each meaning has now.
CONTEXTED = {
    ("census", "Running"): "进行中",
    ("of a thing", "Name"): "名称",
    ("of a thing", "name"): "名称",
    ("a link", "Open"): "打开",
    ("inflow filter", "Open"): "办理中",
    ("state", "Submitted"): "已提交",
    ("period", "Valid"): "有效期",
    ("pass", "Active"): "有效",
    ("up to a time", "until"): "至",
    ("of measure", "Unit"): "计量单位",
    ("report day", "Closed"): "已关账",
    ("a grant", "Revoke"): "撤销",
}


@pytest.mark.parametrize(("context", "msgid"), sorted(CONTEXTED))
def test_known_ambiguous_words_have_their_context(context, msgid, settings):
    from django.utils import translation

    with translation.override("zh-hans"):
        assert translation.pgettext(context, msgid) == CONTEXTED[(context, msgid)]


@pytest.mark.django_db
def test_a_running_campaign_is_running_and_campaigns_and_channels_have_names_not_person_names(cast):
    from fangkong.notify import actions as notify_actions

    make_campaign(cast.comm_a)
    c = Client()
    c.force_login(cast.committee_a)
    html = c.get("/census/").content.decode()
    assert "进行中" in html and "导入中" not in html
    assert "<th>名称</th>" in html and "姓名" not in html

    notify_actions.create_channel(acting_user=cast.admin, name="甲社区通道", kind="email", place=cast.comm_a,
                                  target="a@example.org")
    c.force_login(cast.admin)
    html = c.get("/notify/channels/").content.decode()
    assert "<th>名称</th>" in html and "姓名" not in html


# ASCII punctuation that is syntax the user types or a template filter's argument, not prose.
ASCII_ON_PURPOSE = {"yes,no", "Give the figures as key: number"}
_ASCII_BY_CJK = re.compile(r"[\u4e00-\u9fff]\s*[:,;?!()]|[:,;?!()]\s*[\u4e00-\u9fff]")


def test_chinese_text_has_full_width_punctuation():
    bad = []
    for po in CATALOGUES:
        for e in parse_po(po):
            if e.msgid and e.msgid not in ASCII_ON_PURPOSE and _ASCII_BY_CJK.search(e.msgstr.get(0, "")):
                bad.append(f"{po.relative_to(PACKAGE).parts[0]}: {e.msgid!r} -> {e.msgstr.get(0)!r}")
    assert not bad, "use ：，；？！（） in Chinese text:\n" + "\n".join(bad)
