// The agent console: handoff queue (filtered by status, searched), transcript, reply, close,
// save as FAQ; /console?session=ID opens that conversation (the dashboard's FAQ gaps link here).
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const queue = document.getElementById("queue"), transcript = document.getElementById("transcript");
  const form = document.getElementById("reply-form"), text = document.getElementById("reply-text");
  const status = document.getElementById("console-status"), title = document.getElementById("conv-title");
  const statusFilter = document.getElementById("queue-status"), search = document.getElementById("queue-q");
  const params = new URLSearchParams(location.search);
  let current = null, searchTimer = null;
  if (["open", "closed", "all"].indexOf(params.get("status")) >= 0) statusFilter.value = params.get("status");
  if (params.get("q")) search.value = params.get("q");

  function api(method, url, body) {
    return fetch(url, {method: method, headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                       body: body ? JSON.stringify(body) : undefined})
      .then(function (r) { return r.json().then(function (d) { if (!r.ok) throw new Error(d.message); return d; }); });
  }

  function loadQueue() {
    const query = new URLSearchParams({status: statusFilter.value});
    if (search.value.trim()) query.set("q", search.value.trim());
    api("GET", "/api/staff/handoffs?" + query).then(function (data) {
      queue.textContent = "";
      if (!data.handoffs.length) {
        queue.textContent = search.value.trim() ? "No handoffs match." : "No " + (statusFilter.value === "all" ? "" : statusFilter.value + " ") + "handoffs.";
        return;
      }
      data.handoffs.forEach(function (t) {
        const item = document.createElement("div"); item.className = "card ticket"; item.style.cursor = "pointer";
        item.dataset.status = t.status;
        const head = document.createElement("b"); head.textContent = t.ref + " · " + t.status;
        const why = document.createElement("div"); why.className = "ticket-reason";
        why.textContent = "reason: " + t.reason;
        const meta = document.createElement("div"); meta.className = "meta";
        const lang = document.createElement("span"); lang.className = "ticket-lang"; lang.textContent = "language: " + (t.lang || "-");
        meta.appendChild(lang);
        meta.appendChild(document.createTextNode(" · " + (t.intent || "-") + " · " + (t.sentiment || "-")));
        const summary = document.createElement("div"); summary.textContent = t.summary;
        item.appendChild(head); item.appendChild(why); item.appendChild(meta); item.appendChild(summary);
        item.addEventListener("click", function () { open(t); });
        queue.appendChild(item);
      });
    }).catch(function (e) { queue.textContent = e.message; });
  }

  function showMessages(messages) {
    transcript.textContent = "";
    messages.forEach(function (m) {
      const div = document.createElement("div"); div.className = "msg " + m.role; div.textContent = m.text;
      if (m.role === "customer") {
        const meta = document.createElement("div"); meta.className = "meta";
        meta.textContent = (m.lang || "") + " · " + (m.intent || "") + " · " + (m.sentiment || ""); div.appendChild(meta);
      } else if (m.role === "assistant" && m.path) {
        const meta = document.createElement("div"); meta.className = "meta"; meta.textContent = m.path; div.appendChild(meta);
      }
      transcript.appendChild(div);
    });
  }

  function open(ticket) {
    current = ticket;
    title.textContent = ticket.ref + " · " + ticket.reason + " · " + (ticket.lang || "-");
    api("GET", "/api/staff/conversations/" + encodeURIComponent(ticket.session_id)).then(function (data) {
      current.messages = data.messages;
      showMessages(data.messages);
      form.style.display = "block";
      document.getElementById("close-ticket").style.display = ticket.status === "closed" ? "none" : "";
    });
  }

  function openSession(sessionId) {
    // A conversation without an open ticket (an FAQ gap): its transcript, no reply form.
    api("GET", "/api/staff/conversations/" + encodeURIComponent(sessionId)).then(function (data) {
      if (data.ticket) { open(data.ticket); return; }
      current = null; form.style.display = "none";
      title.textContent = "Conversation " + sessionId;
      showMessages(data.messages);
    }).catch(function (e) { title.textContent = e.message; });
  }

  statusFilter.addEventListener("change", loadQueue);
  search.addEventListener("input", function () { clearTimeout(searchTimer); searchTimer = setTimeout(loadQueue, 200); });
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
  if (params.get("session")) openSession(params.get("session"));
  setInterval(loadQueue, 10000);
})();
