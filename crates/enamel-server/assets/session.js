// Warns two minutes before the idle logoff and lets the person stay signed in.
// The page works without it: the server ends idle sessions either way.
(function () {
  "use strict";
  // A destructive action asks first: a form with data-confirm submits only once the
  // person agrees. (The Content-Security-Policy allows no inline handlers.)
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
  var idle = Number(document.body.dataset.idleSeconds || 0);
  if (!idle) { return; }
  var warning = document.getElementById("idle-warning");
  var left = document.getElementById("idle-left");
  var stay = document.getElementById("idle-stay");
  var lead = Math.min(120, Math.floor(idle / 2));
  var deadline = 0;
  var warnTimer = 0;
  var tick = 0;
  function arm() {
    deadline = Date.now() + idle * 1000;
    warning.hidden = true;
    clearTimeout(warnTimer);
    clearInterval(tick);
    warnTimer = setTimeout(show, (idle - lead) * 1000);
  }
  function show() {
    warning.hidden = false;
    stay.focus();
    tick = setInterval(function () {
      var seconds = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      left.textContent = seconds + " seconds";
      if (seconds === 0) { clearInterval(tick); window.location.assign("/sign-in"); }
    }, 1000);
  }
  stay.addEventListener("click", function () {
    fetch("/account/ping", { credentials: "same-origin" }).then(function (r) {
      if (r.ok) { arm(); } else { window.location.assign("/sign-in"); }
    });
  });
  arm();
}());
