// The inspector's page, offline-safe: each finding form carries a fresh client key (the
// server stores a resend once); a finding recorded without network is kept on the device
// and sent when the network is back.
(function () {
  "use strict";
  const KEY = "fk.command.findings";
  const status = document.getElementById("queue-status");

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function load() { try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; } }
  function save(q) { try { localStorage.setItem(KEY, JSON.stringify(q)); return true; } catch (e) { return false; } }
  function show() {
    const n = load().length;
    status.hidden = !n;
    status.textContent = n ? status.dataset.label + " " + n : "";
  }

  async function send() {
    const q = load();
    const left = [];
    for (const item of q) {
      try {
        const resp = await fetch(item.action, { method: "POST", credentials: "same-origin", body: new URLSearchParams(item.data),
                                                headers: { "Content-Type": "application/x-www-form-urlencoded" } });
        if (resp.status >= 500 || resp.status === 0) left.push(item);
      } catch (e) { left.push(item); }
    }
    save(left);
    show();
  }

  document.querySelectorAll("form[data-offline-form]").forEach((form) => {
    form.elements.client_key.value = uuid();
    form.addEventListener("submit", (e) => {
      if (navigator.onLine) return; // sent now; the key makes a resend harmless
      e.preventDefault();
      const data = Array.from(new FormData(form).entries());
      const q = load();
      q.push({ action: form.action, data });
      save(q);
      form.reset();
      form.elements.client_key.value = uuid();
      show();
    });
  });
  window.addEventListener("online", send);
  show();
  if (navigator.onLine && load().length) send();
})();
