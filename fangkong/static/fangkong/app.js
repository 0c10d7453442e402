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
