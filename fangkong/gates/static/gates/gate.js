/* Fangkong gate page. Checks pass codes in the browser (Ed25519 via WebCrypto, with the
 * public keys and revoked pass ids cached in localStorage), queues entries on the device
 * under a UUID each and sends them in batches whenever the server answers. Works with the
 * server down; a service worker keeps the page itself available offline.
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
  const KINDS = { r: "resident", v: "visitor", c: "vehicle" };
  const COLOURS = { g: "green", y: "yellow", r: "red" };
  const $ = (id) => document.getElementById(id);

  // --- Storage ---------------------------------------------------------------------------
  function load(key, dflt) {
    try { const v = JSON.parse(localStorage.getItem(key)); return v === null ? dflt : v; } catch (e) { return dflt; }
  }
  // Writes can fail when the device's storage is full (QuotaExceededError): the callers
  // decide what must not be lost (the queue) and what may be trimmed (the log).
  function save(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); return true; } catch (e) { return false; }
  }

  let trust = load(KEY.trust, { keys: {}, revoked: [], as_of: null });
  let revoked = new Set(trust.revoked || []);
  const keyCache = {};
  let serverDown = false;
  let needSignIn = false;
  let current = null; // {token, result} of the last scan
  // Entries the device storage had no room for: kept in memory (sent like the others, and
  // moved to storage as soon as there is room), and the guard is told.
  let unsaved = [];
  let lastKeyFetch = 0; // when the page last fetched the keys because of an unknown key id

  // --- Helpers ---------------------------------------------------------------------------
  function b64u(text) {
    let s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
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
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }
  function online() { return navigator.onLine && !serverDown; }
  function hhmm(iso) { const d = new Date(iso); return d.toTimeString().slice(0, 5); }

  // --- Verification (the same rules as the server's) ---------------------------------------
  async function keyFor(kid) {
    const raw = (trust.keys || {})[kid];
    if (!raw) return null;
    if (!keyCache[kid]) {
      keyCache[kid] = crypto.subtle.importKey("raw", b64u(raw), { name: "Ed25519" }, false, ["verify"]);
    }
    return keyCache[kid];
  }

  async function verify(token) {
    token = (token || "").trim();
    const parts = token.split(".");
    if (parts.length !== 3 || parts[0] !== "FK1" || token.length > 600) return { code: "malformed" };
    let claims, sig;
    try {
      const data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b64u(parts[1])));
      claims = { kid: String(data.k), pass_id: data.p, kind: KINDS[data.t], colour: COLOURS[data.c],
                 expires: data.e, masked: String(data.n), host: data.h === undefined ? null : data.h };
      sig = b64u(parts[2]);
      if (!claims.kind || !claims.colour || !Number.isInteger(claims.pass_id) || !Number.isInteger(claims.expires)
          || sig.length !== 64) throw new Error("malformed");
    } catch (e) {
      return { code: "malformed" };
    }
    if (!(window.crypto && crypto.subtle)) return { code: "nocrypto" };
    let key;
    try { key = await keyFor(claims.kid); } catch (e) { key = null; }
    if (!key && navigator.onLine && Date.now() - lastKeyFetch > 10000) {
      // A key id this device does not know: the keys may have been rotated since the last
      // refresh. Online, fetch them (at most every 10 s: forged codes cannot flood the server).
      lastKeyFetch = Date.now();
      await refreshTrust();
      try { key = await keyFor(claims.kid); } catch (e) { key = null; }
    }
    if (!key) {
      if (!Object.keys(trust.keys || {}).length) return { code: "nokeys" };
      // Offline (or the server unreachable), an unknown key may just be a newer one: say so
      // instead of calling the code forged. Refused until the keys are updated.
      return { code: "unknown_key", stale: !online() };
    }
    let good = false;
    try {
      good = await crypto.subtle.verify({ name: "Ed25519" }, key, sig, new TextEncoder().encode(parts[0] + "." + parts[1]));
    } catch (e) { good = false; }
    if (!good) return { code: "bad_signature" };
    if (claims.expires <= Date.now() / 1000) return { code: "expired", claims };
    if (revoked.has(claims.pass_id)) return { code: "revoked", claims };
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
      const resp = await fetch(cfg.urls.check, {
        method: "POST", credentials: "same-origin", signal: ctl.signal,
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify(place ? { token, place: Number(place) } : { token }),
      });
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
    enqueue(entry);
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
      + (unsaved.length ? " · " + T.storageFull : online() ? "" : " · " + T.queued);
    render();
    $("scan").focus();
    sync();
  }

  // --- Queue -------------------------------------------------------------------------------
  function queued() { return load(KEY.queue, []).concat(unsaved); }

  function enqueue(entry) {
    persistUnsaved();
    if (unsaved.length || !save(KEY.queue, load(KEY.queue, []).concat([entry]))) unsaved.push(entry);
  }

  // Move the entries kept in memory to storage, as far as there is room (in order).
  function persistUnsaved() {
    while (unsaved.length && save(KEY.queue, load(KEY.queue, []).concat([unsaved[0]]))) unsaved.shift();
  }

  // Drop sent (or rejected) entries from storage and memory.
  function forget(ids) {
    save(KEY.queue, load(KEY.queue, []).filter((e) => !ids.has(e.client_id)));
    unsaved = unsaved.filter((e) => !ids.has(e.client_id));
    persistUnsaved();
  }

  // The log is a convenience: when storage is full, it is shortened instead of the queue.
  function saveLog(log) {
    for (const n of [30, 10, 3, 0]) if (save(KEY.log, log.slice(0, n))) return;
  }

  // --- Sync -------------------------------------------------------------------------------
  let syncing = false;

  async function sync() {
    if (syncing || !navigator.onLine) { render(); return; }
    syncing = true;
    try {
      for (;;) {
        const batch = queued().slice(0, BATCH);
        if (!batch.length) break;
        const resp = await fetch(cfg.urls.batch, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
          body: JSON.stringify({ entries: batch }),
        });
        serverDown = false;
        if (resp.status === 401 || resp.status === 403) { needSignIn = true; break; }
        needSignIn = false;
        if (!resp.ok) { serverDown = resp.status >= 500; break; }
        const data = await resp.json();
        const done = new Set(data.accepted);
        const bad = {};
        for (const r of data.rejected) bad[r.client_id] = r.errors;
        const verdicts = {};
        for (const e of data.entries) verdicts[e.client_id] = e;
        forget(new Set([...done, ...Object.keys(bad)]));
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
        if (Object.keys(bad).length) {
          const rej = load(KEY.rejected, []);
          for (const [id, errors] of Object.entries(bad)) rej.push({ id, errors });
          save(KEY.rejected, rej.slice(-50));
        }
        render();
      }
    } catch (e) {
      serverDown = true; // network error: everything stays queued
    } finally {
      syncing = false;
      render();
    }
  }

  async function refreshTrust() {
    if (!navigator.onLine) return;
    try {
      const resp = await fetch(cfg.urls.trust, { credentials: "same-origin" });
      if (resp.status === 401 || resp.status === 403) { needSignIn = true; render(); return; }
      if (!resp.ok) return;
      trust = await resp.json();
      trust.fetched = new Date().toISOString();
      save(KEY.trust, trust); // if storage is full, the keys still serve this page
      revoked = new Set(trust.revoked || []);
      for (const k of Object.keys(keyCache)) delete keyCache[k];
      serverDown = false;
    } catch (e) {
      serverDown = true;
    }
    render();
  }

  // --- Rendering --------------------------------------------------------------------------
  function render() {
    const status = $("net-status");
    const on = online();
    status.textContent = on ? T.online : T.offline;
    status.className = "net " + (on ? "on" : "off");
    status.dataset.state = on ? "online" : "offline";
    const waiting = queued().length;
    $("waiting").textContent = String(waiting);
    const full = $("storage-full");
    full.hidden = !unsaved.length;
    full.textContent = unsaved.length ? T.storageFull + " (" + unsaved.length + ")" : "";
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
    const rej = load(KEY.rejected, []);
    const p = $("rejected");
    p.hidden = !rej.length && !needSignIn;
    p.textContent = (needSignIn ? T.signIn + " " : "") +
      rej.slice(-3).map((r) => `${r.id.slice(0, 8)}: ${Object.values(r.errors).join("; ")}`).join(" · ");
  }

  // --- Camera -----------------------------------------------------------------------------
  let stream = null;
  async function camera() {
    const video = $("camera");
    if (stream) { stopCamera(); return; }
    if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia) || typeof jsQR !== "function") {
      error(T.noCamera); return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) { error(T.noCamera); return; }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const canvas = $("camera-canvas");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const tick = () => {
      if (!stream) return;
      if (video.readyState === video.HAVE_ENOUGH_DATA) {
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
        const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
        const code = jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
        if (code && code.data) { stopCamera(); $("scan").value = code.data; onScan(code.data); return; }
      }
      setTimeout(tick, 150);
    };
    tick();
  }
  function stopCamera() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("camera").hidden = true;
  }

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
  $("sync-now").addEventListener("click", () => { serverDown = false; sync(); refreshTrust(); });
  $("camera-btn").addEventListener("click", camera);
  document.querySelectorAll("input[name=subject]").forEach((r) => r.addEventListener("change", () => {
    $("plate-label").hidden = subject() !== "vehicle";
  }));
  window.addEventListener("online", () => { serverDown = false; render(); refreshTrust(); sync(); });
  window.addEventListener("offline", render);
  window.addEventListener("beforeunload", (e) => {
    if (unsaved.length) { e.preventDefault(); e.returnValue = T.storageFull; } // entries only in memory
  });
  setInterval(() => { if (navigator.onLine) sync(); }, 5000);
  setInterval(refreshTrust, 5 * 60 * 1000);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(cfg.urls.sw, { scope: cfg.urls.scope }).catch(() => {});
  }
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
  render();
  refreshTrust().then(sync);
  window.fkGate = { verify, sync, refreshTrust, unsaved: () => unsaved.length }; // for tests and the console
})();
