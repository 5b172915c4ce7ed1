// Hookvault dashboard script: copy buttons, local and relative times, the live request list,
// the two-pane inspector and the replay history.
// Captured data is inserted either as text (textContent) or inside HTML the server rendered and
// escaped; never as HTML built here.
"use strict";

function copyText(text, button) {
  const done = () => { const old = button.textContent; button.textContent = "Copied"; setTimeout(() => { button.textContent = old; }, 1200); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else {
    fallbackCopy(text, done);
  }
}

function fallbackCopy(text, done) {
  const area = document.createElement("textarea");
  area.value = text;
  document.body.appendChild(area);
  area.select();
  try { document.execCommand("copy"); done(); } catch (e) { /* nothing else to try */ }
  area.remove();
}

// Times: the server writes UTC in `<time datetime>`; shown here as "2 min ago" with the full
// local time on hover. Rows rendered with the page and rows that arrive live get the same
// treatment, so they stay identical.
function relativeTime(date, now) {
  const seconds = Math.round((now - date) / 1000);
  const future = seconds < 0;
  const abs = Math.abs(seconds);
  if (abs < 45) return future ? "in a moment" : "just now";
  let n;
  let text;
  if (abs < 3600) { n = Math.max(1, Math.round(abs / 60)); text = n + " min"; }
  else if (abs < 86400) { n = Math.round(abs / 3600); text = n + " h"; }
  else {
    n = Math.round(abs / 86400);
    if (n > 60) return date.toLocaleDateString();
    text = n + (n === 1 ? " day" : " days");
  }
  return future ? "in " + text : text + " ago";
}

function fillTimes(root) {
  const now = Date.now();
  root.querySelectorAll("time[datetime]").forEach((el) => {
    const date = new Date(el.getAttribute("datetime"));
    if (isNaN(date.getTime())) return;
    el.textContent = relativeTime(date, now);
    el.title = date.toLocaleString(undefined, {
      weekday: "short", year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
    });
  });
}

// The inspector: the list on the left, the selected capture on the right. A row opens with a
// click anywhere on it (a click with a modifier key on its link still opens the full page) or
// with the up and down keys; the pane's content is the request page's, rendered by the server.
function startInspector(table, pane) {
  const body = table.querySelector("tbody");
  const first = pane.querySelector("article.capture");
  let current = first ? first.dataset.id : null;
  let loads = 0;
  const rows = () => Array.from(body.querySelectorAll("tr[data-id]"));
  const mark = () => {
    rows().forEach((tr) => {
      const on = tr.dataset.id === current;
      tr.classList.toggle("selected", on);
      if (!tr.classList.length) tr.removeAttribute("class");
      if (on) tr.setAttribute("aria-selected", "true"); else tr.removeAttribute("aria-selected");
    });
  };
  const open = (id) => {
    const mine = ++loads;
    pane.setAttribute("aria-busy", "true");
    fetch("/requests/" + encodeURIComponent(id) + "/pane", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => {
        if (mine !== loads) return;
        // HTML rendered and escaped by the server (the request page's own template).
        pane.innerHTML = html;
        fillTimes(pane);
        const article = pane.querySelector("article.capture");
        if (article && article.dataset.title) document.title = article.dataset.title + " · Hookvault";
      })
      .catch((status) => {
        if (mine !== loads) return;
        pane.textContent = "";
        const p = document.createElement("p");
        p.className = "error";
        p.textContent = "This capture could not be loaded (" + status + "); open it as a page instead.";
        pane.appendChild(p);
      })
      .finally(() => { if (mine === loads) pane.removeAttribute("aria-busy"); });
    const url = new URL(window.location.href);
    url.searchParams.set("r", id);
    window.history.replaceState(null, "", url);
  };
  const select = (tr) => {
    current = tr.dataset.id;
    mark();
    tr.scrollIntoView({ block: "nearest" });
    open(current);
  };
  // ↑/↓ move through the list only after a click in it (elsewhere they scroll the page, as
  // usual); j/k always do.
  let listActive = false;
  document.addEventListener("click", (ev) => { listActive = body.contains(ev.target); }, true);
  body.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-id]");
    if (!tr || ev.target.closest("input, label, button")) return;
    if (ev.target.closest("a") && (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey || ev.button !== 0)) return;
    ev.preventDefault();
    select(tr);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.target.closest && ev.target.closest("input, textarea, select, [contenteditable]")) return;
    const arrow = ev.key === "ArrowDown" || ev.key === "ArrowUp";
    if (arrow && !listActive) return;
    const step = ev.key === "ArrowDown" || ev.key === "j" ? 1 : ev.key === "ArrowUp" || ev.key === "k" ? -1 : 0;
    const list = rows();
    if (!step || !list.length) return;
    const at = list.findIndex((tr) => tr.dataset.id === current);
    const next = at < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, at + step));
    ev.preventDefault();
    if (list[next].dataset.id !== current) select(list[next]);
  });
  mark();
  // A live row is marked when it is the open capture (it was opened before it arrived).
  table.addEventListener("hookvault:row", mark);
}

// The live list: each `request` event carries a list row rendered by the server with the same
// template as the page's rows (captured data escaped there); rows already shown are skipped.
function startLive(table) {
  const url = table.dataset.live;
  if (!url || typeof EventSource === "undefined") return;
  const body = table.querySelector("tbody");
  const seen = new Set(Array.from(body.querySelectorAll("tr")).map((tr) => tr.dataset.id));
  // Start at the position the page was rendered at, so nothing in between is missed.
  const source = new EventSource(url + "?after=" + encodeURIComponent(table.dataset.after));
  source.addEventListener("request", (ev) => {
    const holder = document.createElement("template");
    holder.innerHTML = ev.data;
    const tr = holder.content.querySelector("tr");
    if (!tr || seen.has(tr.dataset.id)) return;
    seen.add(tr.dataset.id);
    tr.classList.add("fresh");
    fillTimes(tr);
    body.insertBefore(tr, body.firstChild);
    table.dispatchEvent(new CustomEvent("hookvault:row"));
    table.hidden = false;
    const bulk = document.getElementById("bulk");
    if (bulk) bulk.hidden = false;
    const empty = document.getElementById("empty-state");
    if (empty) empty.hidden = true;
  });
}

document.addEventListener("click", (ev) => {
  const b = ev.target.closest ? ev.target.closest("button.copy") : null;
  if (!b) return;
  const from = b.dataset.copyFrom ? document.getElementById(b.dataset.copyFrom) : null;
  copyText(from ? from.textContent : b.dataset.copy, b);
});

document.addEventListener("DOMContentLoaded", () => {
  fillTimes(document);
  setInterval(() => fillTimes(document), 30000);
  const live = document.getElementById("requests");
  if (live) startLive(live);
  const pane = document.getElementById("detail");
  if (live && pane) startInspector(live, pane);
  const history = document.getElementById("replay-history");
  if (history) watchReplays(history);
  document.querySelectorAll("textarea[data-json-check]").forEach(startJsonCheck);
  const all = document.getElementById("select-all");
  if (all && live) {
    // Ticks or clears every capture listed on this page (not ones arriving later).
    all.addEventListener("change", () => {
      live.querySelectorAll("tbody input[name=request_id]").forEach((box) => { box.checked = all.checked; });
    });
  }
});

// Edit and replay: while the headers' Content-Type is JSON, the body must parse as JSON; the
// reason is shown next to the body and the form is not sent (the server checks it again).
function checkJsonField(area) {
  const headers = document.getElementById(area.dataset.jsonCheck);
  const message = document.getElementById("body-error");
  const match = headers ? /^\s*content-type\s*:\s*([^\r\n]*)$/im.exec(headers.value) : null;
  const media = match ? match[1].split(";")[0].trim().toLowerCase() : "";
  const json = media === "application/json" || (media.startsWith("application/") && media.endsWith("+json"));
  let problem = "";
  if (json) {
    try { JSON.parse(area.value); } catch (e) { problem = "The body is not valid JSON: " + e.message + ". Fix it, or change the Content-Type header."; }
  }
  area.setCustomValidity(problem);
  if (message) {
    message.textContent = problem;
    message.hidden = problem === "";
  }
  return problem === "";
}

function startJsonCheck(area) {
  const headers = document.getElementById(area.dataset.jsonCheck);
  const check = () => checkJsonField(area);
  area.addEventListener("input", check);
  if (headers) headers.addEventListener("input", check);
  if (area.form) {
    area.form.addEventListener("submit", (ev) => {
      if (!check()) { ev.preventDefault(); area.focus(); }
    });
  }
}

// Replay history: while a replay is queued or running, re-read the history's rows every second
// (rendered by the server with the same template as the page's rows, captured data escaped
// there) and put them in place of the shown ones.
function watchReplays(table) {
  if (table.dataset.pending !== "true") return;
  const body = table.querySelector("tbody");
  const tick = () => {
    fetch(table.dataset.source, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => {
        const holder = document.createElement("template");
        holder.innerHTML = html;
        fillTimes(holder.content);
        body.replaceChildren(holder.content);
        table.hidden = body.querySelector("tr") === null;
        if (body.querySelector("td.replay-queued, td.replay-running")) setTimeout(tick, 1000);
      })
      .catch(() => setTimeout(tick, 3000));
  };
  setTimeout(tick, 500);
}
