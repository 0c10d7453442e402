/* Fangkong on-site checklist (复工复产核验) without network: the checker's answers, with
 * their photos (shrunk on the phone), are kept on the device under a UUID (their client id)
 * and sent to POST /api/resumption-checks/{id}/finish whenever the server answers; a resend
 * of the same answers stores once. The same pattern as the duty and gate pages; the pages
 * themselves are kept by the service worker (sw.js). Every text shown comes from the page. */
(function () {
  "use strict";
  const cfgNode = document.getElementById("check-config");
  if (!cfgNode) return;
  const cfg = JSON.parse(cfgNode.textContent);
  const T = cfg.t;
  const CACHE = "fk-resumption-v1";
  const MAX_SIDE = 1600; // photos are shrunk to this many pixels on the longer side before queueing
  const $ = (id) => document.getElementById(id);
  const form = document.querySelector("form.checklist[data-check]");
  let serverDown = false;
  let needSignIn = false;
  let memory = []; // the queue when the device refuses storage (private mode): kept while the page is open

  // --- The queue: IndexedDB (photos are too big for localStorage) ---------------------------
  function openDb() {
    return new Promise((resolve) => {
      if (!window.indexedDB) { resolve(null); return; }
      let req;
      try { req = indexedDB.open("fk-resumption:" + cfg.user, 1); } catch (e) { resolve(null); return; }
      req.onupgradeneeded = () => req.result.createObjectStore("queue", { keyPath: "client_id" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => resolve(null);
    });
  }
  const dbReady = openDb();
  async function tx(mode, fn) {
    const db = await dbReady;
    if (!db) return fn(null);
    return new Promise((resolve, reject) => {
      const t = db.transaction("queue", mode);
      const out = fn(t.objectStore("queue"));
      t.oncomplete = () => resolve(out && out.result !== undefined ? out.result : out);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  }
  async function queued() {
    try {
      const rows = await tx("readonly", (store) => (store ? store.getAll() : null));
      return (rows || []).concat(memory).sort((a, b) => (a.device_at < b.device_at ? -1 : 1));
    } catch (e) { return memory.slice(); }
  }
  async function enqueue(entry) {
    try { await tx("readwrite", (store) => { if (!store) throw new Error("no store"); store.put(entry); }); }
    catch (e) { memory.push(entry); }
  }
  async function forget(id) {
    memory = memory.filter((e) => e.client_id !== id);
    try { await tx("readwrite", (store) => store && store.delete(id)); } catch (e) { /* gone with the page */ }
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function online() { return navigator.onLine && !serverDown; }
  function fmt(text, vars) { return text.replace(/%\((\w+)\)s/g, (_m, k) => String(vars[k])); }

  // --- Photos: shrunk on the phone (a JPEG data URL), else sent as they are -----------------
  function readRaw(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(r.result);
      r.onerror = () => reject(r.error);
      r.readAsDataURL(file);
    });
  }
  async function shrink(file) {
    if (window.createImageBitmap) {
      try {
        const bmp = await createImageBitmap(file);
        const scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
        const canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(bmp.width * scale));
        canvas.height = Math.max(1, Math.round(bmp.height * scale));
        canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
        if (bmp.close) bmp.close();
        return { name: (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg", data: canvas.toDataURL("image/jpeg", 0.85) };
      } catch (e) { /* not an image the phone can draw: the server decides */ }
    }
    return { name: file.name || "photo", data: await readRaw(file) };
  }

  // --- The check page -----------------------------------------------------------------------
  function fieldsets() { return form ? Array.from(form.querySelectorAll("fieldset[data-key]")) : []; }
  function showError(key, text) {
    const ul = $("item_" + key + "-errors");
    if (!ul) return;
    ul.hidden = !text;
    ul.innerHTML = "";
    if (text) { const li = document.createElement("li"); li.textContent = text; ul.appendChild(li); }
  }
  function collect() {
    const answers = {};
    const errors = {};
    for (const fs of fieldsets()) {
      const key = fs.dataset.key;
      const label = fs.dataset.label;
      const checked = fs.querySelector(`input[name="result_${key}"]:checked`);
      const note = (fs.querySelector(`[name="note_${key}"]`) || {}).value || "";
      const qtyInput = fs.querySelector(`[name="quantity_${key}"]`);
      const qty = qtyInput ? qtyInput.value.trim() : "";
      const result = checked ? checked.value : "";
      if (!result) errors[key] = fmt(T.choose, { item: label });
      else if (result === "fail" && !note.trim()) errors[key] = fmt(T.sayWhat, { item: label });
      else if (fs.dataset.quantity && result === "pass" && !qty) errors[key] = fmt(T.quantity, { item: label });
      answers[key] = { result, note: note.trim(), quantity: qty === "" ? null : Number(qty) };
    }
    return { answers, errors };
  }
  async function submit(e) {
    e.preventDefault();
    const { answers, errors } = collect();
    for (const fs of fieldsets()) showError(fs.dataset.key, errors[fs.dataset.key]);
    const first = Object.keys(errors)[0];
    if (first) { $("item-" + first).scrollIntoView(); return; }
    let photos = 0;
    for (const fs of fieldsets()) {
      const input = fs.querySelector('input[type="file"]');
      const files = input ? Array.from(input.files || []) : [];
      answers[fs.dataset.key].photos = [];
      for (const f of files) {
        try { answers[fs.dataset.key].photos.push(await shrink(f)); photos += 1; }
        catch (err) { showError(fs.dataset.key, fmt(T.photoBad, { item: fs.dataset.label })); return; }
      }
    }
    const overall = form.querySelector("[name=note]");
    const entry = {
      client_id: uuid(), check: Number(form.dataset.check), device_at: new Date().toISOString(), offline: !online(),
      photos, body: { answers, note: overall ? overall.value.trim() : "" },
    };
    await enqueue(entry);
    showQueued(entry);
    await render();
    sync();
  }
  function showQueued(entry) {
    if (!form || entry.check !== Number(form.dataset.check)) return;
    form.classList.add("is-queued");
    form.querySelectorAll("input, button, textarea, select").forEach((el) => { el.disabled = true; });
    const note = $("queued-note");
    note.hidden = false;
    note.textContent = T.queued;
    note.dataset.state = "queued";
    for (const fs of fieldsets()) {
      const a = entry.body.answers[fs.dataset.key];
      const p = fs.querySelector(".photo-state");
      if (!a || !p) continue;
      const r = fs.querySelector(`input[name="result_${fs.dataset.key}"][value="${a.result}"]`);
      if (r) r.checked = true;
      const n = (a.photos || []).length;
      p.hidden = !n;
      p.textContent = n ? fmt(T.photosQueued, { n }) : "";
    }
  }
  function unqueue(errors) {
    if (!form) return;
    form.classList.remove("is-queued");
    form.querySelectorAll("input, button, textarea, select").forEach((el) => { el.disabled = false; });
    $("queued-note").hidden = true;
    for (const fs of fieldsets()) {
      fs.querySelector(".photo-state").hidden = true;
      showError(fs.dataset.key, (errors || {})["item_" + fs.dataset.key] || (errors || {})["photo_" + fs.dataset.key] || "");
    }
  }

  // --- Sending --------------------------------------------------------------------------------
  let syncing = false;
  async function sync() {
    if (syncing || !navigator.onLine) { render(); return; }
    syncing = true;
    let reload = false;
    try {
      for (const entry of await queued()) {
        const resp = await fetch(cfg.urls.api + entry.check + "/finish", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
          body: JSON.stringify({ ...entry.body, client_id: entry.client_id, offline: entry.offline }),
        });
        serverDown = false;
        if (resp.status === 401 || resp.status === 403) { needSignIn = true; break; }
        needSignIn = false;
        if (resp.status >= 500) { serverDown = true; break; }
        const here = form && entry.check === Number(form.dataset.check);
        if (resp.ok) {
          await forget(entry.client_id);
          if (here) reload = true;
          continue;
        }
        // Refused (already checked by someone else, answers the server does not take):
        // dropped from the queue and shown; on its own page the form is open again.
        let data = {};
        try { data = await resp.json(); } catch (e) { data = {}; }
        // The API's refusals: 422 {"detail": [{field, message}]}, 409/404 {"detail": "reason"}.
        const errors = {};
        if (Array.isArray(data.detail)) for (const d of data.detail) errors[d.field] = d.message;
        const text = Object.values(errors).join("; ") || (typeof data.detail === "string" ? data.detail : "") || String(resp.status);
        await forget(entry.client_id);
        remember(entry.check, text);
        if (here) unqueue(errors);
      }
    } catch (e) {
      serverDown = true; // no network: everything stays queued
    } finally {
      syncing = false;
      await render();
    }
    if (reload) window.location.reload(); // the page as the server now has it
  }
  const REJECTED = "fk-resumption-rejected:" + cfg.user;
  function remember(check, text) {
    let rej = [];
    try { rej = JSON.parse(localStorage.getItem(REJECTED)) || []; } catch (e) { rej = []; }
    rej.push({ check, text });
    try { localStorage.setItem(REJECTED, JSON.stringify(rej.slice(-5))); } catch (e) { /* shown below only */ }
    shownRejected.push({ check, text });
  }
  const shownRejected = [];

  async function render() {
    const status = $("net-status");
    const on = online();
    status.textContent = on ? T.online : T.offline;
    status.className = "net " + (on ? "on" : "off");
    status.dataset.state = on ? "online" : "offline";
    const waiting = await queued();
    $("waiting").textContent = String(waiting.length);
    const p = $("rejected");
    p.hidden = !shownRejected.length && !needSignIn;
    p.textContent = (needSignIn ? T.signIn + " " : "") +
      shownRejected.slice(-3).map((r) => r.text + " (" + T.rejected + ")").join(" · ");
    // The list: which checks wait on this phone.
    const ids = new Set(waiting.map((e) => e.check));
    document.querySelectorAll("a[data-offline]").forEach((a) => {
      const m = a.getAttribute("href").match(/(\d+)\/$/);
      a.dataset.queued = m && ids.has(Number(m[1])) ? "1" : "";
    });
  }

  // --- Start ------------------------------------------------------------------------------------
  (async () => {
    if (form) {
      form.addEventListener("submit", submit);
      const mine = (await queued()).filter((e) => e.check === Number(form.dataset.check));
      if (mine.length) showQueued(mine[mine.length - 1]);
    }
    await render();
    sync();
  })();
  $("sync-now").addEventListener("click", () => { serverDown = false; sync(); });
  window.addEventListener("online", () => { serverDown = false; sync(); });
  window.addEventListener("offline", render);
  setInterval(() => { if (navigator.onLine) sync(); }, 5000);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(cfg.urls.sw, { scope: cfg.urls.scope }).catch(() => {});
  }
  // Keep the pages of the visit on the phone while there is network: this page, and from
  // the list every check still to be done.
  if (navigator.onLine && window.caches) {
    const pages = Array.from(document.querySelectorAll("a[data-offline]"), (a) => a.getAttribute("href"));
    if (form && !navigator.serviceWorker?.controller) pages.push(window.location.pathname);
    if (pages.length) caches.open(CACHE).then((c) => Promise.all(pages.map((u) => c.add(u).catch(() => null)))).catch(() => {});
  }
  window.fkChecks = { sync, queued: async () => (await queued()).length }; // for tests and the console
})();
