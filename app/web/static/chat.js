// The customer chat widget: streams answers over server-sent events; shows a person's replies after a handoff.
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  let sessionId = sessionStorage.getItem("shopqa-session");
  let lastId = 0, polling = null;

  function bubble(role, text) {
    const div = document.createElement("div");
    div.className = "msg " + role;
    div.textContent = text;  // never innerHTML: customer and model text is not trusted
    log.appendChild(div);
    return div;
  }

  function sources(div, list) {
    if (!list || !list.length) return;
    const p = document.createElement("div");
    p.className = "meta sources";
    list.forEach(function (s) {
      const a = document.createElement("a");
      a.textContent = "[" + (s.ref || "-") + "] " + s.title;
      if (/^https?:\/\//.test(s.source)) { a.href = s.source; a.target = "_blank"; a.rel = "noopener"; }
      p.appendChild(a); p.appendChild(document.createTextNode(" "));
    });
    div.appendChild(p);
  }

  function poll() {
    if (!sessionId) return;
    fetch("/api/chat/" + encodeURIComponent(sessionId) + "/messages?after=" + lastId)
      .then(function (r) { return r.json(); })
      .then(function (data) {
        (data.messages || []).forEach(function (m) {
          if (m.id > lastId) { lastId = m.id; if (m.role === "agent") bubble("agent", m.text); }
        });
      }).catch(function () {});
  }

  function parseEvents(buffer, onEvent) {
    const parts = buffer.split("\n\n");
    for (let i = 0; i < parts.length - 1; i++) {
      let event = "message", data = "";
      parts[i].split("\n").forEach(function (line) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      });
      if (data) onEvent(event, JSON.parse(data));
    }
    return parts[parts.length - 1];
  }

  form.addEventListener("submit", async function (e) {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    bubble("customer", text);
    const answer = bubble("assistant", "…");
    answer.dataset.state = "streaming";
    let streamed = "";
    try {
      const resp = await fetch("/api/chat", {
        method: "POST",
        headers: {"Content-Type": "application/json", "Accept": "text/event-stream"},
        body: JSON.stringify(sessionId ? {message: text, session_id: sessionId} : {message: text})
      });
      if (!resp.ok) {
        const err = await resp.json().catch(function () { return {message: resp.statusText}; });
        answer.textContent = err.message || "Something went wrong."; answer.dataset.state = "error"; return;
      }
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        buffer = parseEvents(buffer + decoder.decode(chunk.value, {stream: true}), function (event, data) {
          if (event === "token") { streamed += data.text; answer.textContent = streamed; }
          else if (event === "done") {
            answer.textContent = data.answer;  // the checked final answer replaces what was streamed
            sources(answer, data.sources);
            answer.dataset.state = "done";
            answer.dataset.path = data.path;
            sessionId = data.session_id; sessionStorage.setItem("shopqa-session", sessionId);
            if (data.handoff && !polling) polling = setInterval(poll, 3000);
          } else if (event === "error") { answer.textContent = data.message; answer.dataset.state = "error"; }
        });
      }
      poll();
    } catch (err) {
      answer.textContent = "Connection problem, please try again."; answer.dataset.state = "error";
    }
  });
})();
