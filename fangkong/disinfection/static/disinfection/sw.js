// Fangkong disinfection phone page service worker: today's rounds stay usable offline, and a
// target's code scanned without network opens the cached list on that target.
const CACHE = "fk-disinfection-v1";
const PARAMS = new URL(self.location.href).searchParams;
const PAGE = PARAMS.get("page") || "/disinfection/today/";
const ASSETS = JSON.parse(PARAMS.get("assets") || "[]");
const SCAN = /\/disinfection\/t\/[^/]+\/$/;
self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS).then(() => fetch(PAGE, { credentials: "same-origin" })
    .then((r) => (r.ok && !r.redirected ? c.put(PAGE, r) : null)).catch(() => null)))
    .then(() => self.skipWaiting()));
});
self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys().then((ks) => Promise.all(ks.filter((k) => k.startsWith("fk-disinfection") && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});
self.addEventListener("fetch", (e) => {
  const req = e.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== location.origin) return;
  if (url.pathname === PAGE || SCAN.test(url.pathname)) {
    // Network first; offline, the last good copy of today's list (the script finds the scanned target in it).
    e.respondWith(fetch(req).then((resp) => {
      if (url.pathname === PAGE && resp.ok && !resp.redirected) { const copy = resp.clone(); caches.open(CACHE).then((c) => c.put(PAGE, copy)); }
      return resp;
    }).catch(() => caches.match(PAGE).then((r) => r || Response.error())));
  } else if (ASSETS.includes(url.pathname)) {
    e.respondWith(caches.match(url.pathname).then((r) => r || fetch(req)));
  }
});
