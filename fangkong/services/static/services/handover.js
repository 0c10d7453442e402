/* Fangkong distribution round page: hand-overs marked without network.
 * Each mark is kept on the device under a UUID (its client id) with the device's time and sent
 * in batches whenever the server answers; a resend is answered "already recorded", never a
 * second mark (the queue, the sending and the worker: fangkong/offline.js). Every text shown
 * comes from the page, never from this file. */
(function () {
  "use strict";
  const off = window.fkOffline;
  const cfg = JSON.parse(document.getElementById("handover-config").textContent);
  const T = cfg.t;
  const KEY = { queue: "fk-handover-queue:" + cfg.user, rejected: "fk-handover-rejected:" + cfg.user };
  const $ = (id) => document.getElementById(id);
  const { load, save, uuid } = off;

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
    outbox.add(entry);
    note(room + " · " + (outbox.online() ? T.sending : T.queued), "waiting");
    outbox.render();
    outbox.sync();
  }

  // What the server answered to a batch: each mark recorded (or already), each refused.
  function reply(data, batch) {
    const done = [];
    const roundOf = {};
    for (const e of batch) roundOf[e.client_id] = e.round;
    let here = 0; // new marks of this page's round (the queue may hold another round's)
    for (const r of data.recorded) {
      done.push(r.client_id);
      note(r.address + " · " + (r.already ? T.already : T.recorded), "recorded");
      if (!r.already && roundOf[r.client_id] === cfg.round) here += 1;
    }
    const rej = load(KEY.rejected, []);
    for (const r of data.rejected) {
      done.push(r.client_id);
      rej.push({ room: r.room, errors: r.errors });
    }
    save(KEY.rejected, rej.slice(-20));
    if (here) $("handed").textContent = String(Number($("handed").textContent) + here);
    return done;
  }

  function render() {
    $("memory").hidden = !outbox.unsaved(); // device storage full: kept in memory until sent
    const rej = load(KEY.rejected, []);
    const list = $("rejected");
    list.hidden = !rej.length && !outbox.needSignIn();
    list.textContent = "";
    if (outbox.needSignIn()) { const li = document.createElement("li"); li.textContent = T.signIn; list.appendChild(li); }
    for (const r of rej.slice(-10).reverse()) {
      const li = document.createElement("li");
      li.textContent = r.room + " · " + Object.values(r.errors).join("; ");
      list.appendChild(li);
    }
  }

  const outbox = off.outbox({ queue: off.queue(KEY.queue), url: cfg.urls.batch, reply, render, texts: T });

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
  $("clear-rejected").addEventListener("click", () => { save(KEY.rejected, []); outbox.render(); });
  off.worker(cfg.urls.sw, cfg.urls.scope);
  off.keep([location.pathname]); // this round's page, for a reload without network
  outbox.start();
  outbox.sync();
  window.fkHandover = { sync: outbox.sync, queued: () => outbox.queued().length }; // for tests and the console
})();
