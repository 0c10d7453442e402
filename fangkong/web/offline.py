"""The field pages that work without network (gate, duty, disinfection, hand-over round,
registration, on-site checklist) share one service worker script, fangkong/static/fangkong/sw.js,
and one page script, fangkong/static/fangkong/offline.js. Each module serves the worker under
its own address (a worker's scope is limited by its path, unless the Service-Worker-Allowed
header widens it) and names its cache, pages and assets in the script's query string."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from django.http import HttpResponse
from django.templatetags.static import static

WORKER = Path(__file__).resolve().parent.parent / "static" / "fangkong" / "sw.js"
# Every offline page loads these besides its own: the base template's files and the shared module.
BASE_ASSETS = ["vendor/pico/pico.min.css", "fangkong/app.css", "vendor/htmx/htmx.min.js", "fangkong/app.js",
               "fangkong/offline.js"]


def worker_url(sw_url: str, *, cache: str, assets, page: str = "", items: str = "", scans: str = "") -> str:
    """The worker's address with its parameters: `cache` "fk-<module>-v<N>" (bump N to start
    afresh: the module's other caches are deleted), `page` kept on install, `items` a prefix of
    numbered pages kept once visited, `scans` a prefix of pages answered offline by `page`,
    `assets` static names (the shared module's and the base template's are added)."""
    names = list(dict.fromkeys([*BASE_ASSETS, *assets]))
    params = {"cache": cache, "page": page, "items": items, "scans": scans,
              "assets": json.dumps([static(a) for a in names])}
    return sw_url + "?" + urlencode({k: v for k, v in params.items() if v})


def worker_response(allowed_scope: str) -> HttpResponse:
    """The shared worker script, served under a module's address for pages up to `allowed_scope`."""
    resp = HttpResponse(WORKER.read_bytes(), content_type="application/javascript; charset=utf-8")
    resp["Service-Worker-Allowed"] = allowed_scope
    return resp
