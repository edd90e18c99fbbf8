// The agent console: handoff queue, transcript, reply, close, save as FAQ.
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const queue = document.getElementById("queue"), transcript = document.getElementById("transcript");
  const form = document.getElementById("reply-form"), text = document.getElementById("reply-text");
  const status = document.getElementById("console-status"), title = document.getElementById("conv-title");
  let current = null;

  function api(method, url, body) {
    return fetch(url, {method: method, headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                       body: body ? JSON.stringify(body) : undefined})
      .then(function (r) { return r.json().then(function (d) { if (!r.ok) throw new Error(d.message); return d; }); });
  }

  function loadQueue() {
    api("GET", "/api/staff/handoffs").then(function (data) {
      queue.textContent = "";
      if (!data.handoffs.length) { queue.textContent = "No open handoffs."; return; }
      data.handoffs.forEach(function (t) {
        const item = document.createElement("div"); item.className = "card ticket"; item.style.cursor = "pointer";
        const head = document.createElement("b"); head.textContent = t.ref + " · " + t.reason;
        const meta = document.createElement("div"); meta.className = "meta";
        meta.textContent = (t.intent || "-") + " · " + (t.sentiment || "-") + " · " + (t.lang || "");
        const summary = document.createElement("div"); summary.textContent = t.summary;
        item.appendChild(head); item.appendChild(meta); item.appendChild(summary);
        item.addEventListener("click", function () { open(t); });
        queue.appendChild(item);
      });
    }).catch(function (e) { queue.textContent = e.message; });
  }

  function open(ticket) {
    current = ticket;
    title.textContent = ticket.ref + " · " + ticket.reason;
    api("GET", "/api/staff/conversations/" + encodeURIComponent(ticket.session_id)).then(function (data) {
      transcript.textContent = "";
      current.messages = data.messages;
      data.messages.forEach(function (m) {
        const div = document.createElement("div"); div.className = "msg " + m.role; div.textContent = m.text;
        if (m.role === "customer") {
          const meta = document.createElement("div"); meta.className = "meta";
          meta.textContent = (m.intent || "") + " · " + (m.sentiment || ""); div.appendChild(meta);
        }
        transcript.appendChild(div);
      });
      form.style.display = "block";
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!current || !text.value.trim()) return;
    api("POST", "/api/staff/handoffs/" + current.id + "/reply", {text: text.value})
      .then(function () { status.textContent = "Reply sent."; open(current); })
      .catch(function (e) { status.textContent = e.message; });
  });
  document.getElementById("close-ticket").addEventListener("click", function () {
    if (!current) return;
    api("POST", "/api/staff/handoffs/" + current.id + "/close").then(function () {
      status.textContent = "Closed."; form.style.display = "none"; transcript.textContent = ""; loadQueue();
    });
  });
  document.getElementById("save-faq").addEventListener("click", function () {
    if (!current) return;
    const messages = current.messages || [];
    const question = messages.filter(function (m) { return m.role === "customer"; })[0];
    const agent = messages.filter(function (m) { return m.role === "agent"; }).pop();
    const answer = text.value.trim() || (agent && agent.text);
    if (!question || !answer) { status.textContent = "Write or send a reply first."; return; }
    api("POST", "/api/staff/faq-candidates", {ticket_id: current.id, question: question.text, answer: answer, lang: current.lang || "en"})
      .then(function () { status.textContent = "Saved as a FAQ candidate."; })
      .catch(function (e) { status.textContent = e.message; });
  });
  loadQueue();
  setInterval(loadQueue, 10000);
})();
