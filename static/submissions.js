// The submission pages (evaluation/templates/evaluation/): the upload form posts with
// XMLHttpRequest to show its progress, and a page listing an unfinished submission (an
// element with data-active="true", from the API payload's `active`) reloads itself every 5 s.
// Loaded as a file: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

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

  var form = document.getElementById("upload-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sendWithProgress(form);
    });
  }
  if (document.querySelector('[data-active="true"]')) {
    setTimeout(function () { window.location.reload(); }, 5000);
  }
})();
