// The submission form (evaluation/templates/evaluation/phase_submit.html) sends a file larger
// than one chunk (the form's data-chunk-bytes) in chunks through the upload-session API (docs/api.md, "Uploading in chunks"): one request per
// chunk of at most the size the server names, each retried with a growing pause when the
// network or the server fails, with the progress, speed and time left shown as it goes. The
// session's address is kept in localStorage under the file's name, size and modification
// time, so that choosing the same file again after a dropped connection or a reload goes on
// from the offset the server reports. A smaller file is left to submissions.js, which posts it
// whole in one request, as the form does without JavaScript.
// Loaded as a file before submissions.js: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var RETRIES = 8;
  var FIRST_PAUSE_MS = 1000;
  var LONGEST_PAUSE_MS = 30000;
  var KEY_PREFIX = "podium-upload:";

  var form = document.getElementById("upload-form");
  if (!form || !form.getAttribute("data-uploads-url") || !window.Blob || !window.localStorage) {
    return;
  }
  var uploadsUrl = form.getAttribute("data-uploads-url");
  var chunkBytes = parseInt(form.getAttribute("data-chunk-bytes") || "0", 10);
  var bar = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var button = form.querySelector("button[type=submit]");

  // A refusal that trying again cannot change (the server's message), as opposed to a failure
  // of the network or the server, which is retried.
  function Refusal(message, statusCode) {
    this.message = message;
    this.status = statusCode;
  }

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  function keyFor(file) {
    return KEY_PREFIX + uploadsUrl + ":" + file.name + ":" + file.size + ":" + file.lastModified;
  }

  function recall(file) {
    try { return window.localStorage.getItem(keyFor(file)); } catch (e) { return null; }
  }

  function remember(file, url) {
    try { window.localStorage.setItem(keyFor(file), url); } catch (e) { /* private mode */ }
  }

  function forget(file) {
    try { window.localStorage.removeItem(keyFor(file)); } catch (e) { /* private mode */ }
  }

  function csrfToken() {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function pause(ms) {
    return new Promise(function (resolve) { window.setTimeout(resolve, ms); });
  }

  // One request; resolves with {status, body, headers} whatever the status, rejects when the
  // network fails. onProgress(bytesSent) follows the body being sent.
  function send(method, url, body, headers, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      Object.keys(headers || {}).forEach(function (name) {
        xhr.setRequestHeader(name, headers[name]);
      });
      if (onProgress) {
        xhr.upload.onprogress = function (e) { onProgress(e.loaded); };
      }
      xhr.onload = function () {
        var parsed = {};
        try { parsed = JSON.parse(xhr.responseText || "{}"); } catch (e) { parsed = {}; }
        resolve({ status: xhr.status, body: parsed, header: xhr.getResponseHeader.bind(xhr) });
      };
      xhr.onerror = xhr.ontimeout = xhr.onabort = function () {
        reject(new Error("network"));
      };
      xhr.send(body);
    });
  }

  // The request again after a network failure, a 5xx or a 429, pausing longer each time
  // (a 429's Retry-After, if longer); any other answer is returned to the caller.
  async function withRetries(attempt) {
    var wait = FIRST_PAUSE_MS;
    for (var tries = 0; ; tries += 1) {
      var answer = null;
      try { answer = await attempt(); } catch (e) { answer = null; }
      if (answer && answer.status < 500 && answer.status !== 429) { return answer; }
      if (tries >= RETRIES) {
        throw new Refusal(answer && answer.body.detail ||
          "The connection to the server failed; choose the file again to resume.", 0);
      }
      var after = answer && parseInt(answer.header("Retry-After") || "0", 10) * 1000;
      say("The connection failed; trying again in " + Math.round(Math.max(wait, after) / 1000) +
          " s…", false);
      await pause(Math.max(wait, after || 0));
      wait = Math.min(wait * 2, LONGEST_PAUSE_MS);
    }
  }

  function refuse(answer) {
    return new Refusal(answer.body.detail || "The upload failed (" + answer.status + ").",
                       answer.status);
  }

  // The session to send the file to: the remembered one, if the server still has it, or a
  // new one. {url, offset, chunk}
  async function session(file, description) {
    var url = recall(file);
    if (url) {
      var known = await withRetries(function () { return send("GET", url); });
      if (known.status === 200) {
        return { url: url, offset: known.body.offset, chunk: known.body.chunk_bytes };
      }
      forget(file);
    }
    var created = await withRetries(function () {
      return send("POST", uploadsUrl, JSON.stringify({
        file_name: file.name, size: file.size, description: description
      }), { "Content-Type": "application/json" });
    });
    if (created.status !== 201) { throw refuse(created); }
    url = created.header("Location");
    remember(file, url);
    return { url: url, offset: created.body.offset, chunk: created.body.chunk_bytes };
  }

  function duration(seconds) {
    if (seconds < 90) { return Math.max(1, Math.round(seconds)) + " s"; }
    if (seconds < 5400) { return Math.round(seconds / 60) + " min"; }
    return (seconds / 3600).toFixed(1) + " h";
  }

  function rate(bytesPerSecond) {
    var units = ["B/s", "kB/s", "MB/s", "GB/s"];
    var unit = 0;
    while (bytesPerSecond >= 1000 && unit < units.length - 1) {
      bytesPerSecond /= 1000;
      unit += 1;
    }
    return bytesPerSecond.toFixed(1) + " " + units[unit];
  }

  // Progress as this visit measured it: the speed counts only the bytes sent since it began.
  function progress(file, startedAt, startOffset) {
    function percentOf(bytes) { return file.size ? Math.floor(100 * bytes / file.size) : 100; }
    var resumed = startOffset > 0 ? " (resumed at " + percentOf(startOffset) + " %)" : "";
    return function (sent) {
      var percent = percentOf(sent);
      bar.value = percent;
      var seconds = (Date.now() - startedAt) / 1000;
      var speed = seconds > 0.5 ? (sent - startOffset) / seconds : 0;
      var left = speed > 0 ? ", about " + duration((file.size - sent) / speed) + " left" : "";
      var speedText = speed > 0 ? " — " + rate(speed) + left : "";
      say("Uploading: " + percent + " %" + resumed + speedText, false);
    };
  }

  async function sendChunks(file, current) {
    var offset = current.offset;
    var show = progress(file, Date.now(), offset);
    show(offset);
    while (offset < file.size) {
      var from = offset;
      var to = Math.min(from + current.chunk, file.size);
      var answer = await withRetries(function () {
        return send("PUT", current.url, file.slice(from, to), {
          "Upload-Offset": String(from), "Content-Type": "application/octet-stream"
        }, function (loaded) { show(from + loaded); });
      });
      if (answer.status === 409) {  // the server has another offset: ask, and go on there
        var asked = await withRetries(function () { return send("GET", current.url); });
        if (asked.status !== 200) { throw refuse(asked); }
        offset = asked.body.offset;
      } else if (answer.status === 200) {
        offset = parseInt(answer.header("Upload-Offset"), 10);
      } else {
        throw refuse(answer);
      }
      show(offset);
    }
  }

  // A refusal that settles the file (a 4xx other than a limit) ends its session, on the
  // server too, so that it does not hold one of the user's unfinished uploads until it expires.
  function settles(error) {
    return error instanceof Refusal && error.status >= 400 && error.status !== 429;
  }

  async function upload(file, description) {
    var current = await session(file, description);
    try {
      await sendChunks(file, current);
      say("Checking the upload…", false);
      var done = await withRetries(function () {
        return send("POST", current.url + "complete/");
      });
      if (done.status !== 201 && done.status !== 200) { throw refuse(done); }
      forget(file);
    } catch (error) {
      if (settles(error)) {
        forget(file);
        send("DELETE", current.url).catch(function () { /* it expires anyway */ });
      }
      throw error;
    }
  }

  form.addEventListener("submit", function (event) {
    var file = form.querySelector("input[type=file]").files[0];
    if (!file || file.size <= chunkBytes) { return; }
    // This file is ours: the whole-file sender in submissions.js stays out of it.
    event.preventDefault();
    event.stopImmediatePropagation();
    var description = (form.querySelector("input[name=description]") || {}).value || "";
    bar.hidden = false;
    bar.value = 0;
    button.disabled = true;
    upload(file, description).then(function () {
      window.location.reload();
    }, function (error) {
      bar.hidden = true;
      button.disabled = false;
      say(error instanceof Refusal ? error.message : "The upload failed; please try again.",
          true);
    });
  });
})();
