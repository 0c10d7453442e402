/* Fangkong field pages without network: the one copy of what the gate, duty, disinfection,
 * hand-over, registration and checklist pages share.
 * - load/save: JSON in localStorage (a write fails when the device's storage is full);
 * - uuid: the client id every entry is kept and sent under (the server stores each id once,
 *   so a resend is never a second entry);
 * - queue / idbQueue: the entries waiting on the device, in localStorage or (photos are too big
 *   for it) IndexedDB, with the entries the device refused to store kept in memory;
 * - outbox: sends the queue whenever the server answers, again every few seconds, less often
 *   while the server fails (backoff), at once when the network returns or "Send now" is
 *   pressed; it shows the online/offline state in the page's #net-status;
 * - refusals: the entries the server refused, kept for the page to show;
 * - worker / keep: the page's service worker (the shared fangkong/sw.js, served under the
 *   module's address) and the pages it is asked to keep for a visit without network.
 * Each page keeps its own storage keys (entries queued by an earlier version are sent), its
 * texts (they come from the page) and what it shows of the server's answer. */
window.fkOffline = (function () {
  "use strict";

  function load(key, dflt) {
    try { const v = JSON.parse(localStorage.getItem(key)); return v === null ? dflt : v; } catch (e) { return dflt; }
  }
  function save(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); return true; } catch (e) { return false; }
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // The CSRF token: the cookie, else a form's hidden field, else the page's htmx headers.
  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"] || ""; } catch (e) { return ""; }
  }

  function post(url, body, extra) {
    return fetch(url, Object.assign({
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() }, body: JSON.stringify(body),
    }, extra || {}));
  }

  // --- Queues ------------------------------------------------------------------------------
  // localStorage under `key`. An entry the storage has no room for is kept in memory (sent
  // like the others; the page may warn that it is lost if the page is closed). With
  // `persist`, the entries in memory move to storage as soon as there is room, in order.
  function queue(key, opts) {
    const persist = !!(opts && opts.persist);
    let unsaved = [];
    function moveToStorage() {
      while (persist && unsaved.length && save(key, load(key, []).concat([unsaved[0]]))) unsaved.shift();
    }
    return {
      all() { return load(key, []).concat(unsaved); },
      add(entry) {
        moveToStorage();
        if (unsaved.length || !save(key, load(key, []).concat([entry]))) unsaved.push(entry);
      },
      forget(ids) {
        save(key, load(key, []).filter((e) => !ids.has(e.client_id)));
        unsaved = unsaved.filter((e) => !ids.has(e.client_id));
        moveToStorage();
      },
      unsaved() { return unsaved.length; },
    };
  }

  // IndexedDB database `name`, object store "queue" keyed by client_id; oldest first (by
  // `order`, the entry's device time). Every method answers a promise.
  function idbQueue(name, order) {
    let memory = []; // the device refuses storage (private mode): kept while the page is open
    const field = order || "device_at";
    const ready = new Promise((resolve) => {
      if (!window.indexedDB) { resolve(null); return; }
      let req;
      try { req = indexedDB.open(name, 1); } catch (e) { resolve(null); return; }
      req.onupgradeneeded = () => req.result.createObjectStore("queue", { keyPath: "client_id" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => resolve(null);
    });
    async function tx(mode, fn) {
      const db = await ready;
      if (!db) return fn(null);
      return new Promise((resolve, reject) => {
        const t = db.transaction("queue", mode);
        const out = fn(t.objectStore("queue"));
        t.oncomplete = () => resolve(out && out.result !== undefined ? out.result : out);
        t.onerror = () => reject(t.error);
        t.onabort = () => reject(t.error);
      });
    }
    return {
      async all() {
        try {
          const rows = await tx("readonly", (store) => (store ? store.getAll() : null));
          return (rows || []).concat(memory).sort((a, b) => (a[field] < b[field] ? -1 : 1));
        } catch (e) { return memory.slice(); }
      },
      async add(entry) {
        try { await tx("readwrite", (store) => { if (!store) throw new Error("no store"); store.put(entry); }); }
        catch (e) { memory.push(entry); }
      },
      async forget(ids) {
        memory = memory.filter((e) => !ids.has(e.client_id));
        try { await tx("readwrite", (store) => { if (store) ids.forEach((id) => store.delete(id)); }); }
        catch (e) { /* gone with the page */ }
      },
      unsaved() { return memory.length; },
    };
  }

  // --- Sending -------------------------------------------------------------------------------
  // A batch with the device's clock at sending (the server compares it with its own).
  function stamped(batch) { return { entries: batch, sent_at: new Date().toISOString() }; }

  // opts: queue (above); url (a string, or a function of the batch); body(batch) (default
  // {entries: batch}); size (entries a request, default 100); drain (send batch after batch
  // until the queue is empty, else one batch a round); reply(data, batch) -> the client ids
  // to drop (default: all of the batch); refused(resp, batch) -> the ids to drop on a 4xx
  // answer (default: none, the entries wait); after() (when a round ends); refresh() (also on
  // "Send now" and when the network returns); every (ms between rounds, default 5000; doubled
  // while the server fails, up to maxEvery, 60000).
  // What it shows, in the page's elements of the field pages' ids: #net-status online or
  // offline (texts.online, texts.offline), #waiting the entries waiting (count(entries), default
  // all), #rejected the last refusals (refusals.all(), each as refusals.line(r) says, default
  // its errors and texts.rejected) after texts.signIn when the server asks to sign in again;
  // #sync-now is the "Send now" button; then render() (the page's own display).
  function outbox(opts) {
    const q = opts.queue;
    const size = opts.size || 100;
    const every = opts.every || 5000;
    const maxEvery = opts.maxEvery || 60000;
    let serverDown = false;
    let needSignIn = false;
    let syncing = false;
    let delay = every;
    let timer = null;

    function online() { return navigator.onLine && !serverDown; }

    const texts = opts.texts || {};
    const el = (id) => document.getElementById(id);
    const errorsLine = (r) => Object.values(r.errors).join("; ") + " (" + texts.rejected + ")";

    function render() {
      const net = el("net-status");
      if (net) {
        const on = online();
        net.textContent = on ? texts.online : texts.offline;
        net.className = "net " + (on ? "on" : "off");
        net.dataset.state = on ? "online" : "offline";
      }
      const show = (entries) => {
        if (el("waiting")) el("waiting").textContent = String(opts.count ? opts.count(entries) : entries.length);
        const refusals = opts.refusals;
        if (refusals && el("rejected")) {
          showRefusals(el("rejected"), refusals.all(), needSignIn ? texts.signIn : "", refusals.line || errorsLine);
        }
        return opts.render ? opts.render() : undefined;
      };
      const entries = q.all(); // an array, or a promise of one (IndexedDB)
      return entries && typeof entries.then === "function" ? entries.then(show) : show(entries);
    }

    async function sync() {
      if (syncing || !navigator.onLine) { await render(); return; }
      syncing = true;
      let failed = false;
      const tried = new Set(); // sent this round: never twice, even if the device fails to drop them
      try {
        for (;;) {
          const batch = (await q.all()).filter((e) => !tried.has(e.client_id)).slice(0, size);
          if (!batch.length) break;
          batch.forEach((e) => tried.add(e.client_id));
          const url = typeof opts.url === "function" ? opts.url(batch) : opts.url;
          const resp = await post(url, opts.body ? opts.body(batch) : { entries: batch });
          serverDown = false;
          if (resp.status === 401 || resp.status === 403) { needSignIn = true; break; }
          needSignIn = false;
          if (!resp.ok) {
            serverDown = failed = resp.status >= 500;
            if (failed || !opts.refused) break;
            await q.forget(new Set(await opts.refused(resp, batch)));
          } else {
            const data = await resp.json().catch(() => ({}));
            const done = opts.reply ? await opts.reply(data, batch) : batch.map((e) => e.client_id);
            await q.forget(new Set(done));
          }
          if (!opts.drain) break;
          await render();
        }
      } catch (e) {
        serverDown = failed = true; // no network: everything stays queued
      } finally {
        syncing = false;
        delay = failed ? Math.min(delay * 2, maxEvery) : every;
        await render();
      }
      if (opts.after) opts.after();
    }

    // Rounds: every `every` ms while the network is there, less often while the server fails.
    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        try { if (navigator.onLine) await sync(); } finally { schedule(); }
      }, delay);
    }
    function now() {
      serverDown = false;
      delay = every;
      if (opts.refresh) opts.refresh();
      sync();
      schedule();
    }

    function start() {
      if (el("sync-now")) el("sync-now").addEventListener("click", now);
      window.addEventListener("online", now);
      window.addEventListener("offline", render);
      schedule();
      return render();
    }

    return {
      start, sync, render, online,
      add: (entry) => q.add(entry),
      queued: () => q.all(),
      unsaved: () => q.unsaved(),
      needSignIn: () => needSignIn,
      // What the page learnt by its own requests (the gate's keys, the registrar's direct sends).
      reachable(ok) { serverDown = !ok; },
      signIn(need) { needSignIn = need; },
    };
  }

  // --- Refusals -------------------------------------------------------------------------------
  // A batch answer's refused entries ({rejected: [{client_id, errors}]}) as {client_id: errors}.
  function refusedOf(data) {
    const bad = {};
    for (const r of data.rejected || []) bad[r.client_id] = r.errors;
    return bad;
  }
  // The last `keep` refusals, under `key` in localStorage: [{id, errors}], each shown as
  // line(r) says (default: its errors).
  function refusals(key, keep, line) {
    return {
      line,
      all: () => load(key, []),
      add(bad) {
        const ids = Object.keys(bad);
        if (ids.length) save(key, load(key, []).concat(ids.map((id) => ({ id, errors: bad[id] }))).slice(-keep));
      },
    };
  }
  // The page's paragraph of refusals: "sign in again" first (signIn: its text, or ""), then the
  // last three, each as line(r) says.
  function showRefusals(el, list, signIn, line) {
    el.hidden = !list.length && !signIn;
    el.textContent = (signIn ? signIn + " " : "") + list.slice(-3).map(line).join(" · ");
  }

  // --- The service worker ------------------------------------------------------------------------
  function worker(url, scope) {
    if (!("serviceWorker" in navigator) || !url) return Promise.resolve(null);
    return navigator.serviceWorker.register(url, { scope }).catch(() => null);
  }

  // Ask the page's worker to keep these pages (of its own scope and patterns) for a visit
  // without network: a page visited before the worker controlled it, the checks of a list.
  function keep(paths) {
    if (!("serviceWorker" in navigator) || !navigator.onLine || !paths.length) return;
    navigator.serviceWorker.ready.then((reg) => { if (reg.active) reg.active.postMessage({ keep: paths }); })
      .catch(() => {});
  }

  return { load, save, uuid, csrf, post, queue, idbQueue, outbox, stamped, refusedOf, refusals, showRefusals, worker, keep };
})();
