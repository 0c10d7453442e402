/* Fangkong gate page. Checks pass codes in the browser (Ed25519 via WebCrypto, with the
 * public keys and revoked pass ids cached in localStorage: fangkong/passcode.js), queues
 * entries on the device under a UUID each and sends them in batches whenever the server
 * answers (fangkong/offline.js). Works with the server down; a service worker keeps the page
 * itself available offline.
 * Every text shown comes from the page (Django i18n), never from this file. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("gate-config").textContent);
  const T = cfg.t;
  const KEY = {
    trust: "fk-gate-trust",
    place: "fk-gate-place:" + cfg.user,
    queue: "fk-gate-queue:" + cfg.user,
    log: "fk-gate-log:" + cfg.user,
    rejected: "fk-gate-rejected:" + cfg.user,
  };
  const BATCH = 500;
  const $ = (id) => document.getElementById(id);
  const off = window.fkOffline;
  const { load, save, uuid } = off;

  let trust = load(KEY.trust, { keys: {}, revoked: [], as_of: null });
  let current = null; // {token, result} of the last scan
  let lastKeyFetch = 0; // when the page last fetched the keys because of an unknown key id
  const refusals = off.refusals(KEY.rejected, 50, (r) => `${r.id.slice(0, 8)}: ${Object.values(r.errors).join("; ")}`);
  function hhmm(iso) { const d = new Date(iso); return d.toTimeString().slice(0, 5); }

  // --- Verification: the server's rules (fangkong/passcode.js), then the gate's own ----------
  async function verify(token) {
    let result = await window.fkPassCode.verify(token, trust);
    if ((result.code === "unknown_key" || result.code === "nokeys") && navigator.onLine && Date.now() - lastKeyFetch > 10000) {
      // A key id this device does not know: the keys may have been rotated since the last
      // refresh. Online, fetch them (at most every 10 s: forged codes cannot flood the server).
      lastKeyFetch = Date.now();
      await refreshTrust();
      result = await window.fkPassCode.verify(token, trust);
    }
    // Offline (or the server unreachable), an unknown key may just be a newer one: say so
    // instead of calling the code forged. Refused until the keys are updated.
    if (result.code === "unknown_key") return { code: "unknown_key", stale: !online() };
    if (result.code) return result;
    const claims = result.claims;
    if (wrongPlace(claims, $("checkpoint").value)) return { code: "wrong_place", claims };
    if (cfg.refusedColours.includes(claims.colour)) return { code: claims.colour, claims };
    return { code: "", claims };
  }

  // A visitor pass admits only within its host place (the code's "h"): at the gates of that
  // compound and its checkpoints. cfg.places[i].within: the ids of the checkpoint and its
  // ancestors. A visitor code without "h" is left to the server.
  function wrongPlace(claims, placeId) {
    if (!claims || claims.kind !== "visitor" || !Number.isInteger(claims.host) || !placeId) return false;
    const p = cfg.places.find((x) => String(x.id) === String(placeId));
    return !!p && !(p.within || []).includes(claims.host);
  }

  // A sealed (or emergency-only) entrance, as the page was given it: {code, text} or null.
  function closedAt(placeId) {
    const p = cfg.places.find((x) => String(x.id) === String(placeId));
    return p && p.closed ? p.closed : null;
  }

  function showClosed() {
    const shut = closedAt($("checkpoint").value);
    $("closed-banner").textContent = shut ? shut.text : "";
    $("closed-banner").hidden = !shut;
  }

  function maskPlate(plate) {  // as fangkong.passes.plates.mask_plate: 鲁E12345 -> 鲁E·***45
    if (plate.length < 5) return "*".repeat(plate.length);
    return plate.slice(0, 2) + "·" + "*".repeat(plate.length - 4) + plate.slice(-2);
  }

  function reasonText(code, stale) {
    if (code === "unknown_key" && stale) return T.keysOutdated;
    if (code === "nokeys") return T.noKeys;
    if (code === "nocrypto") return T.noCrypto;
    return T.reasons[code] || code;
  }

  // What the guard must do, which the result box's colour says (never the pass colour
  // alone): "admitted" (green), "refused" (red), or "check" (amber: look again, e.g. a
  // visitor pass of another compound, an expired pass, a yellow code let in with a check).
  const CHECK_CODES = ["wrong_place", "expired"];

  function outcome(result) {
    if (result.code) return CHECK_CODES.includes(result.code) ? "check" : "refused";
    return result.claims && result.claims.colour !== "green" ? "check" : "admitted";
  }

  function showOutcome(box, what) {
    box.classList.remove("idle", "admitted", "refused", "check");
    box.classList.add(what);
  }

  function showResult(result) {
    const box = $("result");
    const c = result.claims;
    box.className = "result";
    showOutcome(box, outcome(result));
    box.dataset.colour = c ? c.colour : "";
    $("result-colour").className = "result-colour" + (c ? " pass-" + c.colour : "");
    $("result-colour").textContent = c ? T[c.colour] + " · " + T[c.kind] : "✕";
    $("result-name").textContent = c ? c.masked : T.invalid;
    if (result.code) {
      $("result-valid").textContent = T.invalid + ": " + reasonText(result.code, result.stale);
    } else {
      const until = new Date(c.expires * 1000);
      $("result-valid").textContent = T.valid + " · " + T.validUntil + " " +
        until.toLocaleString(document.documentElement.lang || undefined, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
    }
  }

  // Online, the server's answer counts (the colour now, revocations up to the minute, keys
  // rotated since the last refresh); the local check stands when the server cannot answer.
  async function serverCheck(token, local) {
    if (!online() || local.code === "malformed" || !cfg.urls.check) return local;
    const place = $("checkpoint").value;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 3000);
    try {
      const resp = await off.post(cfg.urls.check, place ? { token, place: Number(place) } : { token }, { signal: ctl.signal });
      if (!resp.ok) return local;
      const d = await resp.json();
      const claims = d.colour ? { kind: d.kind, colour: d.colour, masked: d.masked, expires: d.expires,
                                  pass_id: local.claims ? local.claims.pass_id : null,
                                  host: local.claims ? local.claims.host : null } : local.claims;
      return { code: d.ok ? "" : d.reason_code, claims, server: true };
    } catch (e) {
      return local; // timed out or no network: the gate decides on its own
    } finally {
      clearTimeout(timer);
    }
  }

  async function onScan(token) {
    token = (token || "").trim();
    if (!token) return;
    let result = await serverCheck(token, await verify(token));
    const shut = closedAt($("checkpoint").value);
    if (shut && !result.code) result = { ...result, code: shut.code };
    current = { token, result };
    showResult(result);
  }

  // --- Entries ----------------------------------------------------------------------------
  function error(msg) {
    const p = $("entry-error");
    p.textContent = msg || "";
    p.hidden = !msg;
  }

  function subject() { return document.querySelector("input[name=subject]:checked").value; }

  function record(direction, refuse) {
    error("");
    const place = $("checkpoint").value;
    if (!place) { error(T.chooseCheckpoint); return; }
    const subj = subject();
    let plate = "";
    if (subj === "vehicle") {
      plate = $("plate").value.replace(/[\s·•.\-]/g, "").toUpperCase();
      if (!plate) { error(T.plateNeeded); return; }
    }
    let temperature = $("temperature").value.trim().replace("，", ".").replace(",", ".");
    if (temperature) {
      const t = Number(temperature);
      if (!(t >= 34 && t <= 43)) { error(T.tempRange); return; }
    }
    const token = current ? current.token : "";
    let code = current ? current.result.code : (subj === "person" ? "no_pass" : "");
    const seen = current && current.result.claims;
    if (!code && seen && seen.kind === "vehicle") {
      // A vehicle pass is for that vehicle: not for a person, and its plate must match.
      if (subj === "person") code = "wrong_kind";
      else if (plate && maskPlate(plate) !== seen.masked) code = "plate_mismatch";
    }
    if (!code && wrongPlace(seen, place)) code = "wrong_place"; // the checkpoint was changed after the scan
    const shut = closedAt(place);
    if (shut) code = shut.code; // a sealed entrance refuses everyone
    if (code === "nokeys" || code === "nocrypto") code = ""; // cannot check here: the server will
    if (!code && temperature && Number(temperature) >= Number(cfg.fever)) code = "fever";
    let decision = code ? "refused" : "allowed";
    let reasonCode = code;
    let note = "";
    if (refuse) {
      decision = "refused";
      reasonCode = $("refuse-reason").value || "manual";
      note = $("refuse-text").value.trim();
    }
    const entry = {
      client_id: uuid(), place: Number(place), direction, subject: subj, token, plate,
      temperature: temperature || null, decision, reason_code: reasonCode, reason_text: note,
      occurred_at: new Date().toISOString(), offline: !online(),
    };
    outbox.add(entry);
    const log = load(KEY.log, []);
    log.unshift({ id: entry.client_id, at: entry.occurred_at, direction, subject: subj,
                  who: (current && current.result.claims ? current.result.claims.masked : "") || plate || "—",
                  decision, reason: reasonCode, state: "waiting" });
    saveLog(log);
    current = null;
    $("scan").value = "";
    $("temperature").value = "";
    $("plate").value = "";
    $("refuse-text").value = "";
    const box = $("result");
    box.classList.add("done");
    showOutcome(box, decision === "refused" ? "refused" : "admitted");
    $("result-valid").textContent = (decision === "refused" ? T.recordedRefused + ": " + reasonText(reasonCode) : T.recorded)
      + (outbox.unsaved() ? " · " + T.storageFull : online() ? "" : " · " + T.queued);
    outbox.render();
    $("scan").focus();
    outbox.sync();
  }

  // --- Log ----------------------------------------------------------------------------------
  // The log is a convenience: when storage is full, it is shortened instead of the queue.
  function saveLog(log) {
    for (const n of [30, 10, 3, 0]) if (save(KEY.log, log.slice(0, n))) return;
  }

  // --- Sending ------------------------------------------------------------------------------
  // What the server answered to a batch: the log's entries sent (with the server's verdict)
  // or rejected.
  function reply(data) {
    const done = new Set(data.accepted);
    const bad = off.refusedOf(data);
    const verdicts = {};
    for (const e of data.entries) verdicts[e.client_id] = e;
    const log = load(KEY.log, []);
    for (const item of log) {
      if (done.has(item.id)) {
        item.state = "sent";
        const v = verdicts[item.id];
        if (v) { item.decision = v.decision; item.reason = v.reason_code; item.flagged = v.flagged; }
      } else if (item.id in bad) {
        item.state = "rejected";
      }
    }
    saveLog(log);
    refusals.add(bad);
    return [...done, ...Object.keys(bad)];
  }

  async function refreshTrust() {
    if (!navigator.onLine) return;
    try {
      const resp = await fetch(cfg.urls.trust, { credentials: "same-origin" });
      if (resp.status === 401 || resp.status === 403) { outbox.signIn(true); outbox.render(); return; }
      if (!resp.ok) return;
      trust = await resp.json();
      trust.fetched = new Date().toISOString();
      save(KEY.trust, trust); // if storage is full, the keys still serve this page
      outbox.reachable(true);
    } catch (e) {
      outbox.reachable(false);
    }
    outbox.render();
  }

  // --- Rendering --------------------------------------------------------------------------
  function render() {
    const unsaved = outbox.unsaved();
    const full = $("storage-full");
    full.hidden = !unsaved;
    full.textContent = unsaved ? T.storageFull + " (" + unsaved + ")" : "";
    const log = load(KEY.log, []);
    const ol = $("log");
    ol.replaceChildren(...log.slice(0, 15).map((item) => {
      const li = document.createElement("li");
      li.className = item.decision + " " + item.state;
      li.dataset.state = item.state;
      const arrow = item.direction === "in" ? "→" : "←";
      let text = `${hhmm(item.at)} ${arrow} ${item.who}`;
      if (item.decision === "refused") text += " · " + T.invalid + ": " + reasonText(item.reason);
      if (item.flagged) text += " · " + T.flagged;
      if (item.state === "waiting") text += " · " + T.waiting;
      if (item.state === "rejected") text += " · " + T.rejected;
      li.textContent = text;
      return li;
    }));
  }

  // Entries the device storage has no room for stay in memory (sent like the others, moved to
  // storage as soon as there is room), and the guard is told.
  const outbox = off.outbox({
    queue: off.queue(KEY.queue, { persist: true }), url: cfg.urls.batch, size: BATCH, drain: true, reply, render,
    refusals, refresh: refreshTrust, texts: T,
  });
  const online = outbox.online;

  // --- Wiring -----------------------------------------------------------------------------
  const select = $("checkpoint");
  const saved = load(KEY.place, null);
  if (saved && Array.from(select.options).some((o) => o.value === String(saved))) select.value = String(saved);
  select.addEventListener("change", () => { save(KEY.place, select.value); showClosed(); });
  showClosed();
  $("scan-form").addEventListener("submit", (e) => { e.preventDefault(); onScan($("scan").value); });
  $("btn-in").addEventListener("click", () => record("in", false));
  $("btn-out").addEventListener("click", () => record("out", false));
  $("btn-refuse").addEventListener("click", () => record("in", true));
  window.fkCamera.wire((code) => { $("scan").value = code; onScan(code); }, () => error(T.noCamera));
  document.querySelectorAll("input[name=subject]").forEach((r) => r.addEventListener("change", () => {
    $("plate-label").hidden = subject() !== "vehicle";
  }));
  window.addEventListener("beforeunload", (e) => {
    if (outbox.unsaved()) { e.preventDefault(); e.returnValue = T.storageFull; } // entries only in memory
  });
  setInterval(refreshTrust, 5 * 60 * 1000);
  off.worker(cfg.urls.sw, cfg.urls.scope);
  // A visitor pass issued on the spot: its place is the chosen checkpoint; once issued,
  // its code goes through the same check as a scanned one.
  const vform = $("visitor-form");
  if (vform) {
    vform.addEventListener("htmx:configRequest", (e) => { e.detail.parameters.place = select.value; });
    document.body.addEventListener("htmx:afterSwap", (e) => {
      const tok = document.getElementById("visitor-token");
      if (e.target.id === "visitor-result" && tok) {
        vform.reset();
        $("scan").value = tok.value;
        refreshTrust().then(() => onScan(tok.value)); // a key made since the last refresh
      }
    });
  }
  outbox.start();
  refreshTrust().then(outbox.sync);
  window.fkGate = { verify, sync: outbox.sync, refreshTrust, unsaved: () => outbox.unsaved() }; // for tests and the console
})();
