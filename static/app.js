// Hookvault dashboard script: copy buttons, the live request list and the replay history.
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

function cell(row, text, code) {
  const td = document.createElement("td");
  if (code) { const c = document.createElement("code"); c.textContent = text; td.appendChild(c); } else { td.textContent = text; }
  row.appendChild(td);
  return td;
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
    body.insertBefore(tr, body.firstChild);
    table.hidden = false;
    const bulk = document.getElementById("bulk");
    if (bulk) bulk.hidden = false;
    const empty = document.getElementById("empty-state");
    if (empty) empty.hidden = true;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button.copy").forEach((b) => {
    b.addEventListener("click", () => {
      const from = b.dataset.copyFrom ? document.getElementById(b.dataset.copyFrom) : null;
      copyText(from ? from.textContent : b.dataset.copy, b);
    });
  });
  const live = document.getElementById("requests");
  if (live) startLive(live);
  const history = document.getElementById("replay-history");
  if (history) watchReplays(history);
});

// Replay history: while a replay is queued or running, re-read the history from the JSON API
// every second and redraw the rows (as text).
function watchReplays(table) {
  if (table.dataset.pending !== "true") return;
  const body = table.querySelector("tbody");
  const tick = () => {
    fetch(table.dataset.source + "?limit=100", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => {
        body.textContent = "";
        let pending = false;
        for (const r of data.replays) {
          if (r.status === "queued" || r.status === "running") pending = true;
          const tr = document.createElement("tr");
          const when = document.createElement("td");
          const a = document.createElement("a");
          a.href = "/requests/" + encodeURIComponent(r.request_id);
          a.textContent = r.created_at;
          when.appendChild(a);
          tr.appendChild(when);
          cell(tr, r.to_cli ? "hookvault listen → " + r.target_url : r.target_url, true);
          cell(tr, r.scheme);
          cell(tr, r.status).className = "replay-" + r.status;
          cell(tr, r.last_error || (r.last_status_code === null || r.last_status_code === undefined ? "" : String(r.last_status_code)));
          cell(tr, r.last_duration_ms === null || r.last_duration_ms === undefined ? "" : r.last_duration_ms + " ms");
          cell(tr, r.last_response_excerpt || "", true);
          body.appendChild(tr);
        }
        table.hidden = data.replays.length === 0;
        if (pending) setTimeout(tick, 1000);
      })
      .catch(() => setTimeout(tick, 3000));
  };
  setTimeout(tick, 500);
}
