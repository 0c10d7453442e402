// The hotline console, keyboard-first: "n" starts a new call, "/" searches the reference list.
document.addEventListener("keydown", function (e) {
  var t = e.target;
  if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
  if (e.key === "n") { var q = document.getElementById("id_question"); if (q) { e.preventDefault(); q.focus(); } }
  if (e.key === "/") { var s = document.getElementById("id_q"); if (s) { e.preventDefault(); s.focus(); } }
});
