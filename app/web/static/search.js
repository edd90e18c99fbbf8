// Instant search over FAQs, docs, products and resolved chats (retrieval only, no LLM).
// The address follows the search (/search?q=...), so a search can be shared as a link.
(function () {
  const q = document.getElementById("q"), type = document.getElementById("type"), lang = document.getElementById("lang");
  const results = document.getElementById("results");
  let timer = null, seq = 0;

  function render(hits) {
    results.textContent = "";
    if (!hits.length) { const p = document.createElement("p"); p.className = "meta"; p.textContent = "No matches."; results.appendChild(p); return; }
    hits.forEach(function (h) {
      const card = document.createElement("div"); card.className = "card hit";
      const title = document.createElement(/^https?:\/\//.test(h.source) ? "a" : "b");
      title.textContent = h.title || h.source;
      if (title.tagName === "A") { title.href = h.source; title.target = "_blank"; title.rel = "noopener"; }
      const meta = document.createElement("div"); meta.className = "meta";
      meta.textContent = h.type + " · " + (h.lang || "") + " · " + h.file + " · score " + h.score.toFixed(4);
      const snippet = document.createElement("div"); snippet.className = "snippet";
      snippet.innerHTML = h.snippet_html;  // escaped by the server; only <mark> tags are markup
      card.appendChild(title); card.appendChild(meta); card.appendChild(snippet);
      results.appendChild(card);
    });
  }

  function remember(text) {
    const shown = new URLSearchParams();
    if (text) shown.set("q", text);
    if (type.value) shown.set("type", type.value);
    if (lang.value) shown.set("lang", lang.value);
    history.replaceState(null, "", location.pathname + (shown.toString() ? "?" + shown : ""));
  }

  function search() {
    const text = q.value.trim();
    remember(text);
    if (!text) { results.textContent = ""; return; }
    const mine = ++seq;
    const params = new URLSearchParams({q: text, k: "10"});
    if (type.value) params.set("type", type.value);
    if (lang.value) params.set("lang", lang.value);
    fetch("/api/search?" + params).then(function (r) { return r.json(); }).then(function (data) {
      if (mine === seq) render(data.hits || []);
    });
  }
  q.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 150); });
  type.addEventListener("change", search); lang.addEventListener("change", search);
  if (q.value.trim()) search();  // opened from a link: /search?q=...
})();
