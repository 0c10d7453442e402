/* Fangkong duty page: check-in on arrival and check-out before leaving work without network.
 * Each press is kept on the device under a UUID (its client id) with the device's time and
 * sent in batches whenever the server answers; a resend stores once. The same pattern as
 * the gate page (gates/gate.js). Every text shown comes from the page, never from this file. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("duty-config").textContent);
  const T = cfg.t;
  const KEY = { queue: "fk-duty-queue:" + cfg.user, rejected: "fk-duty-rejected:" + cfg.user };
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

  // Show an assignment as the device knows it: the server's state, or the entry waiting.
  function showState(li, state, text, at) {
    li.dataset.state = state;
    li.className = "shift state-" + state;
    const span = li.querySelector(".shift-state");
    if (span) span.textContent = text + (at ? " " + hhmm(at) : "");
    const form = li.querySelector("form.check-form");
    if (!form) return;
    const btnIn = form.querySelector("[data-direction=in]");
    if (state === "checked_in" && btnIn) {
      // Arrived: the same form now checks out (a note may be added).
      btnIn.value = "out"; btnIn.dataset.direction = "out";
      btnIn.classList.remove("check-in"); btnIn.classList.add("check-out", "secondary");
      btnIn.textContent = form.dataset.outLabel;
    } else if (state === "checked_out") {
      form.hidden = true;
    }
  }

  function press(form, direction) {
    const li = form.closest("li");
    const note = form.querySelector("textarea[name=note]");
    const entry = { client_id: uuid(), assignment: Number(li.dataset.assignment), direction,
                    device_at: new Date().toISOString(), offline: !online(), note: note ? note.value.trim() : "" };
    enqueue(entry);
    showState(li, direction === "in" ? "checked_in" : "checked_out", (direction === "in" ? T.checkedIn : T.checkedOut)
      + (online() ? "" : " · " + T.queued), entry.device_at);
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
      for (const a of data.assignments) {
        const li = document.querySelector(`li[data-assignment="${a.id}"]`);
        if (!li) continue;
        showState(li, a.state, a.state === "checked_out" ? T.checkedOut : T.checkedIn,
                  a.state === "checked_out" ? a.checkout_at : a.checkin_at);
        if (a.late) li.querySelector(".shift-state").textContent += " · " + T.late;
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

  // Entries waiting from an earlier visit: show them on their shifts.
  for (const e of queued()) {
    const li = document.querySelector(`li[data-assignment="${e.assignment}"]`);
    if (li) showState(li, e.direction === "in" ? "checked_in" : "checked_out",
                      (e.direction === "in" ? T.checkedIn : T.checkedOut) + " · " + T.queued, e.device_at);
  }
  document.querySelectorAll("form.check-form").forEach((form) => {
    form.dataset.outLabel = T.checkOut;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const btn = e.submitter || form.querySelector("button[type=submit]");
      press(form, btn.dataset.direction || btn.value);
    });
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
  window.fkDuty = { sync, queued: () => queued().length }; // for tests and the console
})();
