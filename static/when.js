// Keeps every "in 3 days 4 h" countdown (core/templatetags/when.py) current, once a second.
(function () {
  "use strict";
  function remaining(until) {
    var seconds = Math.floor((until - Date.now()) / 1000);
    if (seconds <= 0) { return "ended"; }
    var days = Math.floor(seconds / 86400); seconds -= days * 86400;
    var hours = Math.floor(seconds / 3600); seconds -= hours * 3600;
    var minutes = Math.floor(seconds / 60); seconds -= minutes * 60;
    if (days) { return "in " + days + " day" + (days !== 1 ? "s" : "") + " " + hours + " h"; }
    if (hours) { return "in " + hours + " h " + minutes + " min"; }
    return minutes ? "in " + minutes + " min" : "in " + seconds + " s";
  }
  function tick() {
    var items = document.querySelectorAll(".countdown[data-until]");
    for (var i = 0; i < items.length; i++) {
      items[i].textContent = remaining(Date.parse(items[i].getAttribute("data-until")));
    }
  }
  if (document.querySelector(".countdown[data-until]")) { setInterval(tick, 1000); }
})();
