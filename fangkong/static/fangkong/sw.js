// Fangkong field pages' service worker: the one script every module's worker runs. Each module
// serves it under its own address (/gates/sw.js, /duty/sw.js, ...: a worker's scope is limited
// by its path) and its page names, in the script's query string (fangkong/web/offline.py):
//   cache   the cache's name, "fk-<module>-v<N>": the module's older caches are deleted;
//   page    a page kept on install (as the signed-in user sees it now, not a sign-in redirect);
//   items   a prefix: the pages <items><number>/ are kept once visited, or when a page asks;
//   scans   a prefix: the pages <scans><code>/ are answered, without network, by the kept page;
//   assets  the static files (a JSON list) kept on install.
// Pages go to the network first (a fresh page and session when online) and fall back on the
// last good copy; the assets come from the cache.
const PARAMS = new URL(self.location.href).searchParams;
const CACHE = PARAMS.get("cache") || "fk-offline-v1";
const FAMILY = CACHE.replace(/-v\d+$/, "");
const PAGE = PARAMS.get("page") || "";
const ASSETS = JSON.parse(PARAMS.get("assets") || "[]");
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const ITEM = PARAMS.get("items") ? new RegExp("^" + escape(PARAMS.get("items")) + "\\d+/$") : null;
const SCAN = PARAMS.get("scans") ? new RegExp("^" + escape(PARAMS.get("scans")) + "[^/]+/$") : null;

function keep(cache, path) {
  return fetch(path, { credentials: "same-origin" })
    .then((r) => (r.ok && !r.redirected ? cache.put(path, r) : null)).catch(() => null);
}

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS).then(() => (PAGE ? keep(c, PAGE) : null)))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys()
    .then((ks) => Promise.all(ks.filter((k) => (k === FAMILY || k.startsWith(FAMILY + "-")) && k !== CACHE)
      .map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// A page asks for pages to be kept: itself when visited before this worker controlled it,
// the checks of a checker's list. Only this worker's own pages.
self.addEventListener("message", (e) => {
  const asked = e.data && e.data.keep;
  const paths = (Array.isArray(asked) ? asked : [asked])
    .filter((p) => typeof p === "string" && (p === PAGE || (ITEM && ITEM.test(p))));
  if (!paths.length) return;
  e.waitUntil(caches.open(CACHE).then((c) => Promise.all(paths.map((p) => keep(c, p)))));
});

// Under which address a GET is kept (null: not one of this worker's pages).
function pageKey(url) {
  if (PAGE && url.pathname === PAGE) return PAGE;
  if (ITEM && ITEM.test(url.pathname) && !url.search) return url.pathname;
  return null;
}

self.addEventListener("fetch", (e) => {
  const req = e.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== location.origin) return;
  const key = pageKey(url);
  const scan = !key && PAGE && SCAN && SCAN.test(url.pathname);
  if (key || scan) {
    e.respondWith(fetch(req).then((resp) => {
      if (key && resp.ok && !resp.redirected) {
        const copy = resp.clone();
        caches.open(CACHE).then((c) => c.put(key, copy));
      }
      return resp;
    }).catch(() => caches.open(CACHE).then((c) => c.match(key || PAGE, { ignoreVary: true }))
      .then((r) => r || Response.error())));
  } else if (ASSETS.includes(url.pathname)) {
    e.respondWith(caches.open(CACHE).then((c) => c.match(url.pathname)).then((r) => r || fetch(req)));
  }
});
