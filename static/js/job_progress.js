// Live progress for a background job (segmentation run, import): polls its API URL (the session cookie
// authenticates) and reloads the page once the run has finished, to show the result.
(function () {
  "use strict";
  var card = document.getElementById("progress");
  if (!card) { return; }
  var url = card.dataset.progressUrl;
  var bar = card.querySelector(".bar");
  var meter = card.querySelector("[role=progressbar]");
  var percent = card.querySelector(".progress-percent");
  var stage = card.querySelector(".progress-stage");
  var hint = card.querySelector(".progress-hint");
  var started = Date.now();
  var POLL_MS = 1000;
  var HINT_AFTER_MS = 15000; // a pending run this old probably has no worker

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (run) {
        bar.style.width = run.progress + "%";
        meter.setAttribute("aria-valuenow", run.progress);
        percent.textContent = run.progress + "%";
        stage.textContent = run.stage || "Waiting for a worker";
        hint.hidden = !(run.status === "pending" && Date.now() - started > HINT_AFTER_MS);
        if (run.status === "pending" || run.status === "running") {
          window.setTimeout(poll, POLL_MS);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(poll, POLL_MS * 3); });
  }
  window.setTimeout(poll, POLL_MS);
})();
