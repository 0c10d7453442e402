// Fangkong distribution round pages' service worker: a round's page and its assets stay usable
// offline (the same pattern as the duty page's, duty/sw.js).
const CACHE = "fk-handover-v2";
const PARAMS = new URL(self.location.href).searchParams;
const SCOPE = PARAMS.get("scope") || "/services/rounds/";
const ASSETS = JSON.parse(PARAMS.get("assets") || "[]");
const ROUND_PAGE = new RegExp("^" + SCOPE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "\\d+/$");
self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys().then((ks) => Promise.all(ks.filter((k) => k.startsWith("fk-handover") && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});
// A round page asks to be kept (its first visit came before this worker controlled it).
self.addEventListener("message", (e) => {
  const path = e.data && e.data.keep;
  if (typeof path !== "string" || !ROUND_PAGE.test(path)) return;
  e.waitUntil(caches.open(CACHE).then((c) => fetch(path, { credentials: "same-origin" })
    .then((r) => (r.ok && !r.redirected ? c.put(path, r) : null)).catch(() => null)));
});
self.addEventListener("fetch", (e) => {
  const req = e.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== location.origin) return;
  if (ROUND_PAGE.test(url.pathname) && !url.search) {
    // Network first (fresh page and session when online), the last good copy when not.
    e.respondWith(fetch(req).then((resp) => {
      if (resp.ok && !resp.redirected) { const copy = resp.clone(); caches.open(CACHE).then((c) => c.put(url.pathname, copy)); }
      return resp;
    }).catch(() => caches.match(url.pathname, { ignoreVary: true }).then((r) => r || Response.error())));
  } else if (ASSETS.includes(url.pathname)) {
    e.respondWith(caches.match(url.pathname).then((r) => r || fetch(req)));
  }
});
