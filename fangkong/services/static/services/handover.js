/* Fangkong distribution round page: hand-overs marked without network.
 * Each mark is kept on the device under a UUID (its client id) with the device's time and sent
 * in batches whenever the server answers; a resend is answered "already recorded", never a
 * second mark. The same pattern as the gate page (gates/gate.js) and the duty page
 * (duty/duty.js). Every text shown comes from the page, never from this file. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("handover-config").textContent);
  const T = cfg.t;
  const KEY = { queue: "fk-handover-queue:" + cfg.user, rejected: "fk-handover-rejected:" + cfg.user };
  const $ = (id) => document.getElementById(id);
  let serverDown = false;
  let needSignIn = false;
  let unsaved = [];

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
  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function online() { return navigator.onLine && !serverDown; }

  function queued() { return load(KEY.queue, []).concat(unsaved); }
  function enqueue(entry) {
    // Device storage full: kept in memory until sent (the page warns).
    if (unsaved.length || !save(KEY.queue, load(KEY.queue, []).concat([entry]))) unsaved.push(entry);
  }
  function forget(ids) {
    save(KEY.queue, load(KEY.queue, []).filter((e) => !ids.has(e.client_id)));
    unsaved = unsaved.filter((e) => !ids.has(e.client_id));
  }
  function note(text, cls) {
    const li = document.createElement("li");
    li.textContent = text;
    if (cls) li.className = cls;
    const list = $("marks");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 30) list.removeChild(list.lastChild);
  }

  function mark(room) {
    const entry = { client_id: uuid(), round: cfg.round, room, device_at: new Date().toISOString() };
    enqueue(entry);
    note(room + " · " + (online() ? T.sending : T.queued), "waiting");
    render();
    sync();
  }

  let syncing = false;
  async function sync() {
    if (syncing || !navigator.onLine) { render(); return; }
    const batch = queued().slice(0, 100);
    if (!batch.length) { render(); return; }
    syncing = true;
    try {
      const resp = await fetch(cfg.urls.batch, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify({ entries: batch }),
      });
      serverDown = false;
      if (resp.status === 401 || resp.status === 403) { needSignIn = true; return; }
      needSignIn = false;
      if (!resp.ok) { serverDown = resp.status >= 500; return; }
      const data = await resp.json();
      const done = new Set();
      const roundOf = {};
      for (const e of batch) roundOf[e.client_id] = e.round;
      let here = 0; // new marks of this page's round (the queue may hold another round's)
      for (const r of data.recorded) {
        done.add(r.client_id);
        note(r.address + " · " + (r.already ? T.already : T.recorded), "recorded");
        if (!r.already && roundOf[r.client_id] === cfg.round) here += 1;
      }
      const rej = load(KEY.rejected, []);
      for (const r of data.rejected) {
        done.add(r.client_id);
        rej.push({ room: r.room, errors: r.errors });
      }
      save(KEY.rejected, rej.slice(-20));
      forget(done);
      if (here) $("handed").textContent = String(Number($("handed").textContent) + here);
    } catch (e) {
      serverDown = true; // no network: everything stays queued
    } finally {
      syncing = false;
      render();
    }
  }

  function render() {
    const status = $("net-status");
    const on = online();
    status.textContent = on ? T.online : T.offline;
    status.className = "net " + (on ? "on" : "off");
    status.dataset.state = on ? "online" : "offline";
    $("waiting").textContent = String(queued().length);
    $("memory").hidden = !unsaved.length;
    const rej = load(KEY.rejected, []);
    const list = $("rejected");
    list.hidden = !rej.length && !needSignIn;
    list.textContent = "";
    if (needSignIn) { const li = document.createElement("li"); li.textContent = T.signIn; list.appendChild(li); }
    for (const r of rej.slice(-10).reverse()) {
      const li = document.createElement("li");
      li.textContent = r.room + " · " + Object.values(r.errors).join("; ");
      list.appendChild(li);
    }
  }

  const form = $("handover-form");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("id_room");
    const room = input.value.trim();
    if (!room) { input.focus(); return; }
    input.value = "";
    input.focus();
    mark(room);
  });
  $("sync-now").addEventListener("click", () => { serverDown = false; sync(); });
  $("clear-rejected").addEventListener("click", () => { save(KEY.rejected, []); render(); });
  window.addEventListener("online", () => { serverDown = false; sync(); });
  window.addEventListener("offline", render);
  setInterval(() => { if (navigator.onLine) sync(); }, 5000);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(cfg.urls.sw, { scope: cfg.urls.scope }).catch(() => {});
    // Keep this round's page on the phone for a reload without network.
    navigator.serviceWorker.ready.then((reg) => { if (reg.active) reg.active.postMessage({ keep: location.pathname }); })
      .catch(() => {});
  }
  render();
  sync();
  window.fkHandover = { sync, queued: () => queued().length }; // for tests and the console
})();
