/* The registrar's phone page (mass testing): works with or without the server.
 * The site's roster (name, birth year, masked ID: never a full ID number) is kept in
 * localStorage for the name search; the current tube fills and seals on the device; every
 * registration and seal gets a client id and, when the server cannot be reached, waits in
 * a queue in localStorage, sent once when the server is back (the server stores each
 * client id once). A typed ID number is matched by the server; a pass code or a signed
 * personal-link code scanned offline is checked on the phone first (signature, expiry,
 * revocation: fangkong/passcode.js, with the keys and revoked pass and link ids that came
 * with the roster) and a forged, expired or withdrawn one is refused there, never queued
 * (a link code of the older, unsigned form is queued for the server to match). The queue,
 * the sending and the service worker: fangkong/offline.js. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("testing-config").textContent);
  const KEY = {
    roster: "fk-testing-roster-" + cfg.site, queue: "fk-testing-queue-" + cfg.site,
    tube: "fk-testing-tube-" + cfg.site, done: "fk-testing-done-" + cfg.site, log: "fk-testing-log-" + cfg.site,
  };
  const $ = (id) => document.getElementById(id);
  const off = window.fkOffline;
  const { load, save, uuid } = off;

  // --- The tube on the device -------------------------------------------------------------
  function tube() { return load(KEY.tube, null); }
  function setTube(t) { save(KEY.tube, t); outbox.render(); }

  function scanTube(code) {
    code = code.trim().toUpperCase();
    if (!code) return;
    const t = tube();
    if (t && t.code === code) { outbox.render(); return; }
    if (t && !t.sealed && t.filled > 0) seal();  // a new tube: the one in hand is sealed
    setTube({ code: code, filled: 0, capacity: cfg.pooling, sealed: false });
  }

  function seal() {
    const t = tube();
    if (!t || t.sealed || t.filled === 0) return;
    t.sealed = true;
    setTube(t);
    send({ op: "seal", client_id: uuid(), tube: t.code });
    show("ok", cfg.text.sealed + " " + t.code);
  }

  // --- People ------------------------------------------------------------------------------
  const ID_LIKE = /^[0-9０-９]{17}[0-9０-９xXｘＸ]$/;

  function classify(text) {
    const compact = text.replace(/\s+/g, "");
    if (ID_LIKE.test(compact)) return { id_number: compact };
    if (compact.indexOf("/r/") >= 0 || compact.split(".").length === 3 || (/^[A-Za-z0-9_-]{16,}$/.test(compact))) {
      return { code: compact };
    }
    return null;  // a name: searched on the device
  }

  function search(text) {
    const roster = load(KEY.roster, { persons: [] }).persons || [];
    const q = text.trim();
    const list = $("matches");
    list.textContent = "";
    const found = q ? roster.filter((p) => p[1].indexOf(q) >= 0).slice(0, 20) : [];
    if (!found.length) { show("error", cfg.text.not_found); return; }
    for (const p of found) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button"; b.className = "outline";
      b.textContent = p[1] + " · " + p[2] + " · " + p[3];
      b.addEventListener("click", () => { list.textContent = ""; register({ person: p[0] }, p[1] + " " + p[3]); });
      li.appendChild(b); list.appendChild(li);
    }
  }

  function rosterName(personId) {
    const roster = load(KEY.roster, { persons: [] }).persons || [];
    const p = roster.find((x) => x[0] === personId);
    return p ? p[1] + " " + p[3] : "";
  }

  // --- Registration --------------------------------------------------------------------------
  function register(who, label) {
    const t = tube();
    if (!t || t.sealed) { show("error", cfg.text.need_tube); $("tube").focus(); return; }
    if (t.filled >= t.capacity) { show("error", cfg.text.full); return; }
    const done = load(KEY.done, {});
    if (who.person && done["p" + who.person]) { show("error", cfg.text.already + " (" + done["p" + who.person] + ")"); return; }
    const entry = Object.assign({ op: "register", client_id: uuid(), tube: t.code, lane: $("lane").value,
                                  occurred_at: new Date().toISOString() }, who);
    t.filled += 1;
    if (t.filled >= t.capacity) t.sealed = true;
    setTube(t);
    if (who.person) { done["p" + who.person] = new Date().toTimeString().slice(0, 5) + " " + t.code; save(KEY.done, done); }
    send(entry, label || who.id_number && maskId(who.id_number) || "");
    $("person").value = "";
    $("person").focus();
  }

  function maskId(id) { return id.length >= 18 ? id.slice(0, 6) + "********" + id.slice(14) : id; }

  async function send(entry, label) {
    if (online() && !outbox.queued().length) {
      try {
        const url = entry.op === "seal" ? cfg.urls.seal : cfg.urls.register;
        const resp = await off.post(url, entry);
        if (resp.status >= 500) throw new Error("server");
        const data = await resp.json().catch(() => ({}));
        if (resp.ok) {
          if (entry.op === "register") {
            show("ok", data.name + " " + data.id_masked + " → " + data.tube + " " + data.filled + "/" + data.capacity);
            addLog(data.name + " " + data.id_masked + " · " + data.tube);
            const t = tube();
            if (t && t.code === data.tube) { t.filled = data.filled; t.sealed = data.sealed; setTube(t); }
            if (data.sealed) show("ok", cfg.text.sealed + " " + data.tube);
          }
          return;
        }
        undo(entry);
        show("error", errorText(data));
        return;
      } catch (e) {
        outbox.reachable(false);
        setTimeout(() => outbox.reachable(true), 5000);
      }
    }
    outbox.add(entry);
    if (entry.op === "register") {
      const name = label || (entry.person ? rosterName(entry.person) : entry.code ? "…" : "");
      show("queued", name + " → " + entry.tube + " · " + cfg.text.queued);
      addLog(name + " · " + entry.tube + " · " + cfg.text.unsent);
    }
    outbox.render();
  }

  function undo(entry) {
    if (entry.op !== "register") return;
    const t = tube();
    if (t && t.code === entry.tube && t.filled > 0) { t.filled -= 1; t.sealed = false; setTube(t); }
    if (entry.person) { const done = load(KEY.done, {}); delete done["p" + entry.person]; save(KEY.done, done); }
  }

  function errorText(data) {
    if (data && data.detail && typeof data.detail === "string") return data.detail;
    if (data && data.errors) return Object.values(data.errors).join(" ");
    if (data && data.detail && data.detail.length) return data.detail.map((d) => d.msg || "").join(" ");
    return "?";
  }

  async function refreshRoster() {
    if (!navigator.onLine) return;
    try {
      const resp = await fetch(cfg.urls.roster, { credentials: "same-origin" });
      if (resp.ok) save(KEY.roster, await resp.json());
    } catch (e) { /* offline: the kept roster serves */ }
  }

  // --- Page ----------------------------------------------------------------------------------
  function show(kind, text) { const o = $("outcome"); o.className = "outcome " + kind; o.textContent = text; }
  function addLog(text) {
    const log = load(KEY.log, []);
    log.unshift(new Date().toTimeString().slice(0, 5) + " " + text);
    save(KEY.log, log.slice(0, 30));
    renderLog();
  }
  function renderLog() {
    const ol = $("log"); ol.textContent = "";
    for (const line of load(KEY.log, [])) { const li = document.createElement("li"); li.textContent = line; ol.appendChild(li); }
  }
  function render() {
    const t = tube();
    $("tube-code").textContent = t ? t.code : "—";
    $("tube-fill").textContent = t ? String(t.filled) : "0";
    $("tube-cap").textContent = t ? String(t.capacity) : String(cfg.pooling);
    $("tube-state").classList.toggle("sealed", !!(t && t.sealed));
  }

  // The queue goes to the site's sync address in one request; the server stores each client id once.
  const outbox = off.outbox({
    queue: off.queue(KEY.queue), url: cfg.urls.sync, size: Infinity, every: 10000, render, refresh: refreshRoster,
    count: (entries) => entries.filter((e) => e.op === "register").length, texts: cfg.text,
    reply(data, batch) {
      for (const r of data.rejected || []) addLog("✗ " + Object.values(r.errors || {}).join(" "));
      return batch.map((e) => e.client_id);
    },
  });
  const online = outbox.online;

  $("tube-form").addEventListener("submit", (ev) => { ev.preventDefault(); scanTube($("tube").value); $("tube").value = ""; $("person").focus(); });
  $("seal").addEventListener("click", seal);
  // A pass code with no server: checked on the phone before it is queued.
  async function checkPassOffline(code) {
    const roster = load(KEY.roster, {});
    const r = await window.fkPassCode.verify(code, roster.trust || {});
    if (!r.code && r.claims.kind !== "resident") return { error: cfg.text.pass.not_resident };
    if (r.code) return { error: cfg.text.pass[r.code] || cfg.text.pass.malformed };
    return { claims: r.claims };
  }

  // A personal-link code with its signed statement, with no server: checked on the phone
  // (signature, the token it was made for, expiry, the roster's withdrawn links).
  async function checkLinkOffline(code) {
    const roster = load(KEY.roster, {});
    const r = await window.fkPassCode.verifyLink(code, roster.trust || {});
    if (r.code) return { error: cfg.text.link[r.code] || cfg.text.pass[r.code] || cfg.text.link.malformed };
    return { claims: r.claims };
  }

  function rosterPerson(personId) {
    const roster = load(KEY.roster, { persons: [] }).persons || [];
    const p = roster.find((x) => x[0] === personId);
    return p ? p[1] + " · " + p[2] + " · " + p[3] : "";
  }

  $("person-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("person").value.trim();
    if (!text) { show("error", cfg.text.need_person); return; }
    $("matches").textContent = "";
    const who = classify(text);
    if (who && who.code && !online() && window.fkPassCode && window.fkPassCode.looksLike(who.code)) {
      const checked = await checkPassOffline(who.code);
      if (checked.error) { show("error", checked.error); $("person").select(); return; }
      const done = load(KEY.done, {});
      const key = "c" + checked.claims.pass_id;
      if (done[key]) { show("error", cfg.text.already + " (" + done[key] + ")"); return; }
      const t = tube();
      register(who, checked.claims.masked + " · " + cfg.text.checked);
      if (t && !t.sealed && t.filled < t.capacity) {
        done[key] = new Date().toTimeString().slice(0, 5) + " " + t.code; save(KEY.done, done);
      }
      return;
    }
    if (who && who.code && !online() && window.fkPassCode && window.fkPassCode.looksLikeLink
        && window.fkPassCode.looksLikeLink(who.code)) {
      const checked = await checkLinkOffline(who.code);
      if (checked.error) { show("error", checked.error); $("person").select(); return; }
      const done = load(KEY.done, {});
      const key = "p" + checked.claims.person_id;  // the same mark as a name search's
      if (done[key]) { show("error", cfg.text.already + " (" + done[key] + ")"); return; }
      const t = tube();
      register(who, (rosterPerson(checked.claims.person_id) || checked.claims.masked) + " · " + cfg.text.checked);
      if (t && !t.sealed && t.filled < t.capacity) {
        done[key] = new Date().toTimeString().slice(0, 5) + " " + t.code; save(KEY.done, done);
      }
      return;
    }
    if (who) register(who, who.id_number ? maskId(who.id_number) : "");
    else search(text);
  });
  $("new-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = ev.target;
    register({ new: { name: f.name.value.trim(), id_number: f.id_number.value.trim(), phone: f.phone.value.trim() } },
             f.name.value.trim() + " " + maskId(f.id_number.value.trim()));
    f.reset();
  });
  off.worker(cfg.urls.sw, cfg.urls.scope);
  outbox.start();
  renderLog();
  refreshRoster();
  outbox.sync();
})();
