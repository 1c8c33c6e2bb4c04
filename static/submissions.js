// The submission pages (evaluation/templates/evaluation/): the upload form posts with
// XMLHttpRequest to show its progress, and every unfinished submission on a page (an element
// with data-poll, the URL of its API payload) follows its state without a reload: the page
// asks the API every 2.5 s, updates the element's .state, .message, .progress and .logs, and
// reloads once when a submission finishes, so that its results appear.
// Loaded as a file: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var INTERVAL_MS = 2500;
  // After five minutes, every 10 s: a page left open must not spend the user's API allowance
  // (the same throttle counts their scripts' requests).
  var SLOW_AFTER_MS = 5 * 60 * 1000;
  var SLOW_INTERVAL_MS = 10000;

  function fail(bar, status, message) {
    bar.hidden = true;
    status.textContent = message;
    status.className = "error";
  }

  function sendWithProgress(form) {
    var bar = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", window.location.pathname);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    bar.hidden = false;
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
    };
    xhr.upload.onload = function () { status.textContent = "Checking the upload…"; };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status === 201) { window.location.reload(); }
      else { fail(bar, status, body.detail || "The upload failed (" + xhr.status + ")."); }
    };
    xhr.onerror = function () {
      fail(bar, status, "The upload was interrupted; please try again.");
    };
    status.textContent = "Uploading…";
    status.className = "";
    xhr.send(new FormData(form));
  }

  function setText(scope, selector, text) {
    var element = scope.querySelector(selector);
    if (element) { element.textContent = text; }
  }

  function show(scope, payload) {
    var progress = payload.progress || {};
    var counted = progress.total ? " (" + progress.done + "/" + progress.total + " cases)" : "";
    var state = scope.querySelector(".state");
    if (state) {
      state.textContent = payload.state + counted;
      state.className = state.className.replace(/\bstate-\S+/, "state-" + payload.state);
    }
    setText(scope, ".message", payload.message || "—");
    if (typeof payload.logs === "string") { setText(scope, ".logs", payload.logs); }
    var bar = scope.querySelector("progress.progress");
    if (bar && progress.total) {
      bar.max = progress.total;
      bar.value = progress.done;
    }
  }

  function follow(scopes) {
    var started = Date.now();
    var next = 0;
    function schedule(delay) { window.setTimeout(tick, delay); }
    function interval() {
      return Date.now() - started > SLOW_AFTER_MS ? SLOW_INTERVAL_MS : INTERVAL_MS;
    }
    // One request per tick, taking the unfinished submissions in turn.
    function tick() {
      var scope = scopes[next % scopes.length];
      next += 1;
      fetch(scope.getAttribute("data-poll"), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (response) {
        if (response.status === 429) {
          var wait = parseInt(response.headers.get("Retry-After") || "30", 10);
          schedule(Math.max(wait, 1) * 1000);
          return null;
        }
        if (response.status < 500 && !response.ok) { return null; }  // logged out, or gone
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json().then(function (payload) {
          show(scope, payload);
          if (payload.active) { schedule(interval()); }
          else { window.location.reload(); }
        });
      }).catch(function () { schedule(SLOW_INTERVAL_MS); });
    }
    schedule(INTERVAL_MS);
  }

  var form = document.getElementById("upload-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sendWithProgress(form);
    });
  }
  var scopes = document.querySelectorAll("[data-poll]");
  if (scopes.length) { follow(Array.prototype.slice.call(scopes)); }
})();
