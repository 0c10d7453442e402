/* Fangkong on-site checklist (复工复产核验) without network: the checker's answers, with
 * their photos (shrunk on the phone), are kept on the device under a UUID (their client id)
 * and sent to POST /api/resumption-checks/{id}/finish whenever the server answers; a resend
 * of the same answers stores once (the queue, the sending and the service worker that keeps
 * the pages: fangkong/offline.js). Every text shown comes from the page. */
(function () {
  "use strict";
  const cfgNode = document.getElementById("check-config");
  if (!cfgNode) return;
  const cfg = JSON.parse(cfgNode.textContent);
  const T = cfg.t;
  const MAX_SIDE = 1600; // photos are shrunk to this many pixels on the longer side before queueing
  const $ = (id) => document.getElementById(id);
  const form = document.querySelector("form.checklist[data-check]");
  const off = window.fkOffline;
  // The queue: IndexedDB (photos are too big for localStorage).
  const queue = off.idbQueue("fk-resumption:" + cfg.user);
  const queued = () => queue.all();
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
      client_id: off.uuid(), check: Number(form.dataset.check), device_at: new Date().toISOString(), offline: !outbox.online(),
      photos, body: { answers, note: overall ? overall.value.trim() : "" },
    };
    await outbox.add(entry);
    showQueued(entry);
    await outbox.render();
    outbox.sync();
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
  // One request an entry, to its check's finish address.
  let reload = false;
  const outbox = off.outbox({
    queue, size: 1, drain: true, render,
    url: (batch) => cfg.urls.api + batch[0].check + "/finish",
    body: (batch) => ({ ...batch[0].body, client_id: batch[0].client_id, offline: batch[0].offline }),
    reply(data, batch) {
      if (form && batch[0].check === Number(form.dataset.check)) reload = true;
      return [batch[0].client_id];
    },
    // Refused (already checked by someone else, answers the server does not take): dropped
    // from the queue and shown; on its own page the form is open again.
    async refused(resp, batch) {
      const entry = batch[0];
      let data = {};
      try { data = await resp.json(); } catch (e) { data = {}; }
      // The API's refusals: 422 {"detail": [{field, message}]}, 409/404 {"detail": "reason"}.
      const errors = {};
      if (Array.isArray(data.detail)) for (const d of data.detail) errors[d.field] = d.message;
      const text = Object.values(errors).join("; ") || (typeof data.detail === "string" ? data.detail : "") || String(resp.status);
      remember(entry.check, text);
      if (form && entry.check === Number(form.dataset.check)) unqueue(errors);
      return [entry.client_id];
    },
    after() { if (reload) window.location.reload(); }, // the page as the server now has it
    texts: T, refusals: { all: () => shownRejected, line: (r) => r.text + " (" + T.rejected + ")" },
  });
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
    const waiting = await queued();
    // The list: which checks wait on this phone.
    const ids = new Set(waiting.map((e) => e.check));
    document.querySelectorAll("a[data-offline]").forEach((a) => {
      const m = a.getAttribute("href").match(/(\d+)\/$/);
      a.dataset.queued = m && ids.has(Number(m[1])) ? "1" : "";
    });
  }

  // --- Start ------------------------------------------------------------------------------------
  outbox.start();
  (async () => {
    if (form) {
      form.addEventListener("submit", submit);
      const mine = (await queued()).filter((e) => e.check === Number(form.dataset.check));
      if (mine.length) showQueued(mine[mine.length - 1]);
    }
    outbox.sync();
  })();
  off.worker(cfg.urls.sw, cfg.urls.scope);
  // Keep the pages of the visit on the phone while there is network: this page, and from
  // the list every check still to be done.
  const pages = Array.from(document.querySelectorAll("a[data-offline]"), (a) => a.getAttribute("href"));
  if (form && !navigator.serviceWorker?.controller) pages.push(window.location.pathname);
  off.keep(pages);
  window.fkChecks = { sync: outbox.sync, queued: async () => (await queued()).length }; // for tests and the console
})();
