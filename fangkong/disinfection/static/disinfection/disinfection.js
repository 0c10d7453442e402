/* Fangkong disinfection phone page: log a round where it is done, with or without network.
 * Each log is kept on the device under a UUID (its client id) with the device's time and
 * sent in batches whenever the server answers; a resend stores once. The pattern of the
 * gate page and the duty page (duty/duty.js). Every text shown comes from the page. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("disinfection-config").textContent);
  const T = cfg.t;
  const KEY = { queue: "fk-disinfection-queue:" + cfg.user, rejected: "fk-disinfection-rejected:" + cfg.user };
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
  function hhmm(iso) { return new Date(iso).toTimeString().slice(0, 5); }
  function queued() { return load(KEY.queue, []).concat(unsaved); }
  function enqueue(entry) {
    if (unsaved.length || !save(KEY.queue, load(KEY.queue, []).concat([entry]))) unsaved.push(entry);
  }
  function forget(ids) {
    save(KEY.queue, load(KEY.queue, []).filter((e) => !ids.has(e.client_id)));
    unsaved = unsaved.filter((e) => !ids.has(e.client_id));
  }

  function showLogged(li, text, at) {
    li.dataset.state = "done";
    li.className = "shift state-done";
    const span = li.querySelector(".shift-state");
    if (span) span.textContent = text + (at ? " " + hhmm(at) : "");
    const form = li.querySelector("form.log-form");
    if (form) form.hidden = true;
  }

  function press(form) {
    const li = form.closest("li");
    if (li.dataset.state === "done") return; // a double tap: logged once
    const entry = { client_id: uuid(), round: Number(li.dataset.round), device_at: new Date().toISOString(),
                    offline: !online(), agent_id: form.agent.value ? Number(form.agent.value) : null,
                    amount: form.amount.value.trim() || null, note: form.note.value.trim() };
    if (entry.agent_id === null) entry.amount = null;
    enqueue(entry);
    showLogged(li, T.logged + (online() ? "" : " · " + T.queued), entry.device_at);
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
        body: JSON.stringify({ entries: batch, sent_at: new Date().toISOString() }),
      });
      serverDown = false;
      if (resp.status === 401 || resp.status === 403) { needSignIn = true; return; }
      needSignIn = false;
      if (!resp.ok) { serverDown = resp.status >= 500; return; }
      const data = await resp.json();
      const bad = {};
      for (const r of data.rejected) bad[r.client_id] = r.errors;
      forget(new Set([...data.accepted, ...Object.keys(bad)]));
      for (const r of data.rounds) {
        const li = document.querySelector(`li[data-round="${r.id}"]`);
        if (li && r.state === "done") showLogged(li, T.logged, r.done_at);
      }
      if (Object.keys(bad).length) {
        const rej = load(KEY.rejected, []);
        for (const [id, errors] of Object.entries(bad)) rej.push({ id, errors });
        save(KEY.rejected, rej.slice(-20));
      }
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
    const rej = load(KEY.rejected, []);
    const p = $("rejected");
    p.hidden = !rej.length && !needSignIn;
    p.textContent = (needSignIn ? T.signIn + " " : "") +
      rej.slice(-3).map((r) => Object.values(r.errors).join("; ") + " (" + T.rejected + ")").join(" · ");
  }

  // A target's code scanned (offline this is the cached list): show that target's round only.
  const scanned = location.pathname.match(/\/t\/([^/]+)\/$/);
  if (scanned) {
    const code = decodeURIComponent(scanned[1]);
    let found = false;
    document.querySelectorAll("#rounds li[data-round]").forEach((li) => {
      const mine = li.dataset.code === code;
      li.hidden = !mine; found = found || mine;
    });
    if (!found && document.querySelector("#rounds li[data-round]")) { $("not-here").hidden = false; $("not-here").textContent = T.notHere; }
  }
  $("filter").addEventListener("input", (e) => {
    const q = e.target.value.trim();
    document.querySelectorAll("#rounds li[data-round]").forEach((li) => { li.hidden = q !== "" && !li.dataset.label.includes(q); });
  });
  for (const e of queued()) {
    const li = document.querySelector(`li[data-round="${e.round}"]`);
    if (li) showLogged(li, T.logged + " · " + T.queued, e.device_at);
  }
  document.querySelectorAll("form.log-form").forEach((form) => {
    form.addEventListener("submit", (e) => { e.preventDefault(); press(form); });
  });
  $("sync-now").addEventListener("click", () => { serverDown = false; sync(); });
  window.addEventListener("online", () => { serverDown = false; sync(); });
  window.addEventListener("offline", render);
  setInterval(() => { if (navigator.onLine) sync(); }, 5000);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(cfg.urls.sw, { scope: cfg.urls.scope }).catch(() => {});
  }
  render();
  sync();
  window.fkDisinfection = { sync, queued: () => queued().length }; // for tests and the console
})();
