// Fangkong on-site checklist service worker: the checker's list and the check pages under
// /resumption/checks/ and their assets stay usable offline (the duty page's pattern).
const CACHE = "fk-resumption-v1";
// The list page and the assets come in the script's query string (see resumption/views.py).
const PARAMS = new URL(self.location.href).searchParams;
const PAGE = PARAMS.get("page") || "/resumption/checks/";
const ASSETS = JSON.parse(PARAMS.get("assets") || "[]");
self.addEventListener("install", (e) => {
  // The assets, and the list as the signed-in checker sees it now (not a sign-in redirect).
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS).then(() => fetch(PAGE, { credentials: "same-origin" })
    .then((r) => (r.ok && !r.redirected ? c.put(PAGE, r) : null)).catch(() => null)))
    .then(() => self.skipWaiting()));
});
self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys().then((ks) => Promise.all(ks.filter((k) => k.startsWith("fk-resumption") && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});
function isPage(path) {
  return path === PAGE || new RegExp("^" + PAGE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "\\d+/$").test(path);
}
self.addEventListener("fetch", (e) => {
  const req = e.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== location.origin) return;
  if (isPage(url.pathname)) {
    // Network first (fresh page and session when online), the last good copy when not.
    e.respondWith(fetch(req).then((resp) => {
      if (resp.ok && !resp.redirected) { const copy = resp.clone(); caches.open(CACHE).then((c) => c.put(url.pathname, copy)); }
      return resp;
    }).catch(() => caches.match(url.pathname).then((r) => r || Response.error())));
  } else if (ASSETS.includes(url.pathname)) {
    e.respondWith(caches.match(url.pathname).then((r) => r || fetch(req)));
  }
});
