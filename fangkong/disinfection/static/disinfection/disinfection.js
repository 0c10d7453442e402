/* Fangkong disinfection phone page: log a round where it is done, with or without network.
 * Each log is kept on the device under a UUID (its client id) with the device's time and
 * sent in batches whenever the server answers; a resend stores once (the queue, the sending and
 * the worker: fangkong/offline.js). Every text shown comes from the page. */
(function () {
  "use strict";
  const off = window.fkOffline;
  const cfg = JSON.parse(document.getElementById("disinfection-config").textContent);
  const T = cfg.t;
  const KEY = { queue: "fk-disinfection-queue:" + cfg.user, rejected: "fk-disinfection-rejected:" + cfg.user };
  const $ = (id) => document.getElementById(id);
  const { uuid } = off;
  function hhmm(iso) { return new Date(iso).toTimeString().slice(0, 5); }
  const refusals = off.refusals(KEY.rejected, 20);

  // What the server answered to a batch: the rounds done, the refused logs.
  function reply(data) {
    const bad = off.refusedOf(data);
    for (const r of data.rounds) {
      const li = document.querySelector(`li[data-round="${r.id}"]`);
      if (li && r.state === "done") showLogged(li, T.logged, r.done_at);
    }
    refusals.add(bad);
    return [...data.accepted, ...Object.keys(bad)];
  }

  const outbox = off.outbox({ queue: off.queue(KEY.queue), url: cfg.urls.batch, body: off.stamped, reply, refusals, texts: T });
  const online = outbox.online;

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
    outbox.add(entry);
    showLogged(li, T.logged + (online() ? "" : " · " + T.queued), entry.device_at);
    outbox.render();
    outbox.sync();
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
  for (const e of outbox.queued()) {
    const li = document.querySelector(`li[data-round="${e.round}"]`);
    if (li) showLogged(li, T.logged + " · " + T.queued, e.device_at);
  }
  document.querySelectorAll("form.log-form").forEach((form) => {
    form.addEventListener("submit", (e) => { e.preventDefault(); press(form); });
  });
  off.worker(cfg.urls.sw, cfg.urls.scope);
  outbox.start();
  outbox.sync();
  window.fkDisinfection = { sync: outbox.sync, queued: () => outbox.queued().length }; // for tests and the console
})();
