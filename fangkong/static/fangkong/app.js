// Behaviour shared by every page. No page carries inline scripts or on* attributes
// (the Content-Security-Policy forbids them): elements declare what they do with data-*
// attributes and this file wires them.
"use strict";
document.addEventListener("click", function (event) {
  var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
  if (target) {
    event.preventDefault();
    window.print();
  }
});
// The header's menu (<details data-wide-open>) is collapsed on a phone and open on a wide
// screen; a tap on its summary still opens and closes it anywhere.
(function () {
  function openWide() {
    if (!window.matchMedia || !window.matchMedia("(min-width: 768px)").matches) return;
    document.querySelectorAll("details[data-wide-open]").forEach(function (d) { d.open = true; });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", openWide);
  else openWide();
})();
