// The dashboard's FAQ gaps: publish an answer as an FAQ, then follow the re-index until it is live.
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById("publish-status");
  let polling = null;

  function api(method, url, body) {
    return fetch(url, {method: method, headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                       body: body ? JSON.stringify(body) : undefined})
      .then(function (r) { return r.json().then(function (d) { if (!r.ok) throw new Error(d.message); return d; }); });
  }

  function show(s) {
    status.dataset.state = s.state;
    if (s.state === "running") {
      status.textContent = "Re-indexing with the published FAQs…" + (s.queued ? " (one more run queued)" : "");
    } else if (s.error) {
      status.textContent = "Publishing failed: " + s.error;
    } else if (s.last) {
      status.dataset.state = "live";
      status.textContent = "Published FAQs are live (" + s.published + " published; index " + s.last.generation + ").";
    }
  }

  function poll() {
    api("GET", "/api/staff/faq-gaps/publish").then(function (s) {
      show(s);
      if (s.state !== "running") { clearInterval(polling); polling = null; }
    }).catch(function (e) { status.textContent = e.message; });
  }

  document.querySelectorAll(".publish-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      const answer = form.querySelector(".publish-answer").value.trim();
      if (!answer) { status.textContent = "Write the answer first."; return; }
      const body = {question: form.dataset.question, answer: answer};
      if (form.dataset.lang === "en" || form.dataset.lang === "zh") body.lang = form.dataset.lang;
      form.querySelector(".publish-send").disabled = true;
      api("POST", "/api/staff/faq-gaps/publish", body).then(function (out) {
        const done = document.createElement("span"); done.className = "gap-published meta"; done.textContent = " ✓ published";
        form.closest("td").querySelector(".gap-question").after(done);
        form.closest("details").open = false;
        show(out.status);
        if (!polling) polling = setInterval(poll, 1000);
      }).catch(function (err) {
        status.textContent = err.message; form.querySelector(".publish-send").disabled = false;
      });
    });
  });
})();
