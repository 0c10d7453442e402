"""The field pages that work without network share one service worker script
(fangkong/static/fangkong/sw.js) and one page module (fangkong/static/fangkong/offline.js).
Each module's worker address stays (a worker's scope is limited by its path) and serves the
shared script, with the module's own cache family so that its older caches are deleted and
no other module's."""
from __future__ import annotations

import json
import re
import urllib.parse

import pytest
from django.test import Client

from fangkong.web.offline import WORKER, worker_url

ROUTES = [("/gates/sw.js", "/gates/"), ("/duty/sw.js", "/duty/"), ("/testing/sw.js", "/testing/sites/"),
          ("/disinfection/sw.js", "/disinfection/"), ("/services/rounds/sw.js", "/services/rounds/"),
          ("/resumption/checks/sw.js", "/resumption/checks/")]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "scope"), ROUTES)
def test_every_modules_worker_address_serves_the_shared_script(path, scope):
    resp = Client().get(path)  # code only, no data: no sign-in needed
    assert resp.status_code == 200 and resp["Content-Type"].startswith("application/javascript")
    assert resp.content == WORKER.read_bytes()
    assert resp["Service-Worker-Allowed"] == scope


def test_each_module_keeps_its_own_cache_family():
    from fangkong.disinfection.views import SW_CACHE as disinfection
    from fangkong.duty.views import SW_CACHE as duty
    from fangkong.gates.views import SW_CACHE as gates
    from fangkong.resumption.views import SW_CACHE as resumption
    from fangkong.services.views import ROUND_SW_CACHE as handover
    from fangkong.testing.views import SW_CACHE as testing

    names = [gates, duty, testing, disinfection, handover, resumption]
    families = [re.fullmatch(r"(fk-[a-z]+)-v\d+", n).group(1) for n in names]
    # The prefixes the modules' own workers used before the shared one: their old caches go.
    assert families == ["fk-gates", "fk-duty", "fk-testing", "fk-disinfection", "fk-handover", "fk-resumption"]


def test_the_worker_address_carries_the_pages_the_cache_and_the_shared_assets():
    url = worker_url("/disinfection/sw.js", cache="fk-disinfection-v2", page="/disinfection/today/",
                     scans="/disinfection/t/", assets=["disinfection/disinfection.js"])
    parts = urllib.parse.urlsplit(url)
    params = urllib.parse.parse_qs(parts.query)
    assert parts.path == "/disinfection/sw.js" and "items" not in params
    assert params["cache"] == ["fk-disinfection-v2"] and params["page"] == ["/disinfection/today/"]
    assert params["scans"] == ["/disinfection/t/"]
    assets = json.loads(params["assets"][0])
    assert assets[-1] == "/static/disinfection/disinfection.js" and "/static/fangkong/offline.js" in assets
    assert len(assets) == len(set(assets))
