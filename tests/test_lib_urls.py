"""The API's patterns resolved by first segment (fangkong.lib.urls) answer every path as the
flat include of the same patterns does: the operation, its name, route and arguments, and
no match where the flat list has none."""
from __future__ import annotations

import re

from django.urls import URLResolver, get_resolver, path, reverse
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern

from fangkong.api import api
from fangkong.lib.urls import _ByFirstSegment


def _answer(resolver, url):
    try:
        m = resolver.resolve(url)
    except Resolver404:
        return None
    return m.url_name, m.route, m.kwargs, m.args, m.namespace, m.app_name


def test_api_paths_resolve_as_the_flat_list_does():
    patterns, app_name, namespace = api.urls
    flat = URLResolver(RegexPattern(r"^/"), [path("api/", (patterns, app_name, namespace))])
    root = get_resolver()
    assert any(isinstance(p, _ByFirstSegment) for p in root.url_patterns)
    urls = ["/api/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: "12" if m.group(1) in ("int", None) else "ab", str(p.pattern))
            for p in patterns]
    urls += ["/api/", "/api/nothing", "/api/testing/nothing", "/api/me/", "/api/testing", "/api/12/3",
             "/api/testing/sites/x/registrations"]
    for url in urls:
        assert _answer(root, url) == _answer(flat, url), url
    assert _answer(root, "/api/testing/sites/7/registrations")[:3] == (
        "site_register", "api/testing/sites/<pk>/registrations", {"pk": "7"})
    assert _answer(root, "/api/nothing") is None
    assert reverse("api:site_register", kwargs={"pk": 7}) == "/api/testing/sites/7/registrations"
