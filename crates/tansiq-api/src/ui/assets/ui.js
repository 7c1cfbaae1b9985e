// Tansiq web interface: the only script, served as a file (the
// Content-Security-Policy allows no inline script). The pages work
// without it; it shows that a long screening is under way.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-progress]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var out = form.querySelector(".progress");
      var button = form.querySelector("button[type=submit]");
      var started = Date.now();
      if (button) { button.disabled = true; }
      if (!out) { return; }
      var tick = function () {
        var s = Math.round((Date.now() - started) / 1000);
        out.textContent = form.getAttribute("data-progress") + " " + s + " s";
      };
      tick();
      setInterval(tick, 1000);
    });
  });
});
