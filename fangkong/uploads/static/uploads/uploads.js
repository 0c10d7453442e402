// Attachments panel (fangkong.uploads): a chosen photo is sent at once, with a progress
// bar; the server answers with the panel, which replaces this one. Without this script
// the forms still work as plain posts.
(function () {
  if (window.fkUploads) return;
  window.fkUploads = true;
  document.addEventListener("change", function (e) {
    var input = e.target, form = input.form;
    if (input.type === "file" && form && form.hasAttribute("data-upload") && input.files.length) form.requestSubmit();
  });
  document.addEventListener("submit", function (e) {
    var form = e.target, panel = form.closest("[data-attachments]");
    if (!form.hasAttribute("data-upload") || !panel || !window.FormData) return;
    e.preventDefault();
    var bar = panel.querySelector("progress"), alert = panel.querySelector("[role=alert]");
    var data = new FormData(form), xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Fangkong-Partial", "1");
    if (bar) { bar.hidden = false; bar.removeAttribute("value"); }
    form.querySelectorAll("button, input[type=file]").forEach(function (b) { b.disabled = true; });
    xhr.upload.onprogress = function (ev) { if (bar && ev.lengthComputable) bar.value = Math.round(ev.loaded * 100 / ev.total); };
    function failed(text) {
      if (bar) bar.hidden = true;
      form.querySelectorAll("button, input[type=file]").forEach(function (b) { b.disabled = false; });
      if (alert) { alert.textContent = text; alert.hidden = false; }
    }
    xhr.onload = function () {
      var html = xhr.responseText || "";
      if (html.indexOf("data-attachments") > -1 && xhr.status < 500) panel.outerHTML = html;
      else failed(panel.getAttribute("data-failed") + " (" + xhr.status + ")");
    };
    xhr.onerror = function () { failed(panel.getAttribute("data-failed")); };
    xhr.send(data);
  });
})();
