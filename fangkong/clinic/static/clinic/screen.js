// The clinic post's screening page: keyboard first, one screen per visitor.
// Enter moves to the next field (the form is sent with Ctrl+Enter or the button), digits
// 1–5 pick the route when the focus is not in a text field, and a temperature at or above
// the fever threshold leaves only the fever routes.
(function () {
  "use strict";
  var form = document.getElementById("screen-form");
  if (!form) return;
  var threshold = parseFloat(form.dataset.fever || "37.3");
  var temp = document.getElementById("f-temp");
  var flag = document.getElementById("fever-flag");
  var feverRoutes = ["fever_clinic", "isolation_ward"];
  var routes = Array.prototype.slice.call(form.querySelectorAll("label.route"));

  function fields() {
    return Array.prototype.slice.call(form.querySelectorAll("input:not([type=hidden]), select, button"))
      .filter(function (el) { return el.offsetParent !== null && !el.disabled; });
  }

  function checkFever() {
    var t = parseFloat((temp.value || "").replace("，", ".").replace(",", "."));
    var fever = !isNaN(t) && t >= threshold;
    flag.hidden = !fever;
    routes.forEach(function (label) {
      var input = label.querySelector("input");
      var allowed = !fever || feverRoutes.indexOf(label.dataset.route) >= 0;
      input.disabled = !allowed;
      if (!allowed && input.checked) input.checked = false;
      label.classList.toggle("muted", !allowed);
    });
  }

  temp.addEventListener("input", checkFever);
  checkFever();

  document.addEventListener("keydown", function (ev) {
    var el = ev.target;
    if (el !== document.body && !form.contains(el)) return;
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.submit();
      return;
    }
    if (ev.key === "Enter" && el.tagName === "INPUT" && el.type !== "submit" && form.contains(el)) {
      ev.preventDefault();
      var list = fields();
      var next = list[list.indexOf(el) + 1];
      if (el.type === "checkbox") { el.checked = !el.checked; return; }
      if (next) next.focus();
      return;
    }
    var typing = el.tagName === "INPUT" && ["text", "tel", "search", ""].indexOf(el.type) >= 0 || el.tagName === "SELECT";
    if (!typing && /^[1-5]$/.test(ev.key)) {
      var label = routes[parseInt(ev.key, 10) - 1];
      var input = label && label.querySelector("input");
      if (input && !input.disabled) { input.checked = true; input.focus(); ev.preventDefault(); }
    }
  });
})();
