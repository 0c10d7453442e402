// Fangkong registration page service worker (mass testing): the registrar's page and its
// assets stay usable offline, so the queue kept on the phone survives a reload without
// network. The page and the assets come in the script's query string (see testing/views.py);
// one worker per site's page (its scope), all sharing one cache.
const CACHE = "fk-testing-v1";
const PARAMS = new URL(self.location.href).searchParams;
const PAGE = PARAMS.get("page") || "/testing/";
const ASSETS = JSON.parse(PARAMS.get("assets") || "[]");
self.addEventListener("install", (e) => {
  // The assets, and the page as the signed-in registrar sees it now (not a sign-in redirect).
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS).then(() => fetch(PAGE, { credentials: "same-origin" })
    .then((r) => (r.ok && !r.redirected ? c.put(PAGE, r) : null)).catch(() => null)))
    .then(() => self.skipWaiting()));
});
self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys().then((ks) => Promise.all(ks.filter((k) => k.startsWith("fk-testing") && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});
self.addEventListener("fetch", (e) => {
  const req = e.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== location.origin) return;
  if (url.pathname === PAGE) {
    // Network first (fresh page and session when online), the last good copy when not.
    e.respondWith(fetch(req).then((resp) => {
      if (resp.ok && !resp.redirected) { const copy = resp.clone(); caches.open(CACHE).then((c) => c.put(PAGE, copy)); }
      return resp;
    }).catch(() => caches.match(PAGE).then((r) => r || Response.error())));
  } else if (ASSETS.includes(url.pathname)) {
    e.respondWith(caches.match(url.pathname).then((r) => r || fetch(req)));
  }
});
