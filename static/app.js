// Hookvault dashboard script: copy buttons and the live request list. Captured data is only
// ever inserted with textContent, never as HTML.
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

function startLive(table) {
  const url = table.dataset.live;
  const newest = Number(table.dataset.newest);
  if (!url || newest < 0 || typeof EventSource === "undefined") return;
  const body = table.querySelector("tbody");
  const seen = new Set(Array.from(body.querySelectorAll("tr")).map((tr) => tr.dataset.seq));
  // Start right after the newest row the page shows, so nothing in between is missed.
  const source = new EventSource(url + "?after=" + encodeURIComponent(String(newest)));
  source.addEventListener("request", (ev) => {
    const r = JSON.parse(ev.data);
    if (seen.has(String(r.seq))) return;
    seen.add(String(r.seq));
    const tr = document.createElement("tr");
    tr.dataset.seq = String(r.seq);
    tr.className = "fresh";
    const pick = document.createElement("td");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "request_id";
    box.value = r.id;
    box.setAttribute("form", "bulk");
    box.setAttribute("aria-label", "Select this capture");
    pick.appendChild(box);
    tr.appendChild(pick);
    const td = document.createElement("td");
    const a = document.createElement("a");
    a.href = "/requests/" + encodeURIComponent(r.id);
    a.className = "method";
    a.textContent = r.method;
    td.appendChild(a);
    tr.appendChild(td);
    cell(tr, r.query === null || r.query === undefined ? r.path : r.path + "?" + r.query, true);
    cell(tr, r.event_type || "");
    const sig = cell(tr, "");
    if (r.signature_status) {
      const badge = document.createElement("span");
      badge.className = "sig sig-" + String(r.signature_status).replace(/[^a-z_]/g, "");
      badge.textContent = r.signature_status;
      badge.title = r.signature_reason || "";
      sig.appendChild(badge);
      const reason = document.createElement("small");
      reason.className = "reason";
      reason.textContent = " " + (r.signature_reason || "");
      sig.appendChild(reason);
    }
    cell(tr, r.size);
    cell(tr, r.content_type || "");
    const t = document.createElement("time");
    t.dateTime = r.received_at;
    t.textContent = r.received_at;
    const tt = document.createElement("td");
    tt.appendChild(t);
    tr.appendChild(tt);
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
