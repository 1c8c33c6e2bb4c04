// The console's own behaviour, for the pages that ask for it (a static file, as every script
// here: the Content-Security-Policy allows no inline script).
// - A task import's page polls the job's progress (a JSON endpoint of the console) while it
//   runs, and reloads, to show the result, when it ends.
// - A challenge's form gets a "Preview" button under each Markdown field, which shows the text
//   as its page will (rendered and sanitised by the server, as on the page itself).
(function () {
  "use strict";
  const intervalMs = 1000;

  function followImport(box) {
    const state = box.querySelector("[data-import-state]");
    const lines = box.querySelector("[data-import-progress]");

    async function poll() {
      try {
        const response = await fetch(box.dataset.progressUrl, {
          credentials: "same-origin",
          headers: {Accept: "application/json"},
        });
        if (response.ok) {
          const job = await response.json();
          state.textContent = job.state_label;
          lines.textContent = job.progress.join("\n");
          if (job.finished) {
            window.location.reload();
            return;
          }
        }
      } catch (error) {
        // The server did not answer this time: ask again at the next tick.
      }
      window.setTimeout(poll, intervalMs);
    }

    window.setTimeout(poll, intervalMs);
  }

  function addPreviews(config) {
    const form = config.closest("form");
    const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    for (const name of config.dataset.markdownFields.split(" ")) {
      const field = form.querySelector(`textarea[name="${name}"]`);
      if (!field) {
        continue;
      }
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button";
      button.textContent = "Preview";
      const shown = document.createElement("div");
      shown.className = "markdown-preview help";
      shown.setAttribute("aria-live", "polite");
      button.addEventListener("click", async function () {
        const body = new FormData();
        body.append("text", field.value);
        const response = await fetch(config.dataset.markdownPreviewUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: {"X-CSRFToken": token, Accept: "application/json"},
          body: body,
        });
        if (response.ok) {
          // Sanitised by the server with the pages' own allow-list (challenges/markdown.py).
          shown.innerHTML = (await response.json()).html;
        } else {
          shown.textContent = "The preview is not available now.";
        }
      });
      field.after(button, shown);
    }
  }

  const job = document.querySelector("[data-progress-url]");
  if (job) {
    followImport(job);
  }
  const markdown = document.querySelector("[data-markdown-preview-url]");
  if (markdown) {
    addPreviews(markdown);
  }
})();
