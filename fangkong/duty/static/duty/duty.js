/* Fangkong duty page: check-in on arrival and check-out before leaving work without network.
 * Each press is kept on the device under a UUID (its client id) with the device's time and
 * sent in batches whenever the server answers; a resend stores once (the queue, the sending and
 * the worker: fangkong/offline.js). Every text shown comes from the page, never from this file. */
(function () {
  "use strict";
  const off = window.fkOffline;
  const cfg = JSON.parse(document.getElementById("duty-config").textContent);
  const T = cfg.t;
  const KEY = { queue: "fk-duty-queue:" + cfg.user, rejected: "fk-duty-rejected:" + cfg.user };
  const $ = (id) => document.getElementById(id);
  const { uuid } = off;
  function hhmm(iso) { return new Date(iso).toTimeString().slice(0, 5); }
  let reload = false;
  const refusals = off.refusals(KEY.rejected, 20);

  // What the server answered to a batch: the shifts as it has them, the refused entries.
  function reply(data, batch) {
    for (const h of data.health || []) {
      showHealth(h.state, h.temperature, "");
      // Taken off a shift shown here, or unwell while the page does not say so yet (the shifts
      // taken off may all be on later days, listed without their state): the page anew.
      if (h.removed.some((id) => { const li = document.querySelector(`li[data-assignment="${id}"]`);
                                   return li && li.dataset.state !== "removed"; })
          || (h.state === "unwell" && !$("unwell"))) reload = true;
    }
    const bad = off.refusedOf(data);
    // A shift refused (another post's QR code, checked in twice...): shown as the server has it.
    if (batch.some((e) => e.assignment && bad[e.client_id])) reload = true;
    for (const a of data.assignments) {
      const li = document.querySelector(`li[data-assignment="${a.id}"]`);
      if (!li) continue;
      showState(li, a.state, a.state === "checked_out" ? T.checkedOut : T.checkedIn,
                a.state === "checked_out" ? a.checkout_at : a.checkin_at);
      if (a.late) li.querySelector(".shift-state").textContent += " · " + T.late;
    }
    if (batch.some((e) => e.kind === "health" && bad[e.client_id]) && $("health-today")) $("health-today").hidden = true;
    refusals.add(bad);
    return [...data.accepted, ...Object.keys(bad)];
  }

  const outbox = off.outbox({
    queue: off.queue(KEY.queue), url: cfg.urls.batch, body: off.stamped, reply, refusals, texts: T,
    after() { if (reload) { reload = false; setTimeout(() => location.reload(), 0); } }, // also when taken off shifts
  });
  const online = outbox.online;
  const queued = outbox.queued;
  const sync = outbox.sync;

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
      if (!form.querySelector("textarea[name=note]")) {
        const label = document.createElement("label");
        label.textContent = T.workLog;
        const note = document.createElement("textarea");
        note.name = "note"; note.rows = 2; note.maxLength = 1000;
        label.appendChild(note);
        form.insertBefore(label, btnIn);
      }
    } else if (state === "checked_out") {
      form.hidden = true;
    }
  }

  function press(form, direction, postCode) {
    const li = form.closest("li");
    const note = form.querySelector("textarea[name=note]");
    const entry = { client_id: uuid(), assignment: Number(li.dataset.assignment), direction,
                    device_at: new Date().toISOString(), offline: !online(), note: note ? note.value.trim() : "" };
    if (postCode) entry.post_code = postCode; // checked against the shift's post by the server
    outbox.add(entry);
    showState(li, direction === "in" ? "checked_in" : "checked_out", (direction === "in" ? T.checkedIn : T.checkedOut)
      + (online() ? "" : " · " + T.queued), entry.device_at);
    outbox.render();
    sync();
  }

  // --- The post's QR code: scanned by the camera (or typed, or from a scanner) ----------------
  // A scan at a post checks out of the shift one is on, else checks into the next shift not
  // yet begun; the code goes with the entry and the server checks it belongs to that shift's
  // post (a wrong one is rejected like any entry). The list's buttons stay as the fallback.
  const POST_PREFIX = "fkpost:";
  function postCode(text) {
    const t = String(text || "").trim();
    return t.toLowerCase().startsWith(POST_PREFIX) ? t.slice(POST_PREFIX.length) : t;
  }
  function scanMessage(text) { const p = $("scan-msg"); if (p) { p.textContent = text; p.hidden = !text; } }
  function actionable() {
    const items = Array.from(document.querySelectorAll("#today li[data-assignment]"))
      .filter((li) => li.querySelector("form.check-form") && !li.querySelector("form.check-form").hidden);
    return items.find((li) => li.dataset.state === "checked_in") || items.find((li) => li.dataset.state === "assigned") || null;
  }
  function onScan(text) {
    const code = postCode(text);
    const li = actionable();
    if (!code) return;
    if (!li) { scanMessage(T.noShift); return; }
    const direction = li.dataset.state === "checked_in" ? "out" : "in";
    scanMessage("");
    press(li.querySelector("form.check-form"), direction, code);
    if ($("scan")) $("scan").value = "";
  }
  if ($("scan-form")) {
    $("scan-form").addEventListener("submit", (e) => { e.preventDefault(); onScan($("scan").value); });
    window.fkCamera.wire(onScan, () => scanMessage(T.noCamera));
  }

  // --- The daily health check-in: queued like the check-ins (same queue, a client id each) ---
  function showHealth(state, temperature, note) {
    const p = $("health-today");
    if (!p) return;
    p.hidden = false;
    p.dataset.state = state;
    p.className = "health-" + state;
    p.textContent = T.today + ": " + temperature + " °C · " + (T.health[state] || "") + (note ? " · " + note : "");
  }
  const hform = $("health-form");
  if (hform) {
    hform.addEventListener("submit", (e) => {
      e.preventDefault();
      const temp = hform.querySelector("input[name=temperature]").value.trim();
      if (!temp) { showHealth("queued", "—", T.enterTemperature); return; }
      const symptoms = Array.from(hform.querySelectorAll("input[name=symptoms]:checked"), (i) => i.value);
      const entry = { kind: "health", client_id: uuid(), temperature: temp, symptoms,
                      device_at: new Date().toISOString(), offline: !online() };
      outbox.add(entry);
      showHealth("queued", temp, T.healthQueued);
      hform.reset();
      outbox.render();
      sync();
    });
  }

  // Entries waiting from an earlier visit: show them on their shifts.
  for (const e of queued()) {
    if (e.kind === "health") { showHealth("queued", e.temperature, T.healthQueued); continue; }
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
  off.worker(cfg.urls.sw, cfg.urls.scope);
  outbox.start();
  sync();
  window.fkDuty = { sync, queued: () => queued().length, onScan }; // for tests and the console
})();
