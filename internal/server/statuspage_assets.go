package server

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
)

// The page's style sheets and script are constants so that the
// Content-Security-Policy can allow exactly them by hash: even if a value
// ever slipped through escaping, an injected script or style would not run.

const statusCSS = `
body{font:14px/1.35 system-ui,sans-serif;margin:1em;color:#111}
h1{font-size:1.4em;margin:.2em 0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#eee}
td.st{font-weight:bold;color:#fff;background:#6d4c41}
tr.s-up td.st{background:#2e7d32}
tr.s-down td.st{background:#c62828}
tr.s-stale td.st{background:#ef6c00}
tr.s-drain td.st,tr.s-draining td.st,tr.s-maint td.st{background:#1565c0}
tr.p{background:#fff8f6}
td.c-ok{color:#2e7d32}
td.adm{min-width:7em}
td.adm.cfg{color:#888}
.cert.warn{background:#fff3cd}
.cert.crit{background:#f8d7da;font-weight:bold}
.err{min-width:8em;max-width:30em;overflow-wrap:anywhere;color:#8a1c1c}
td.id{min-width:9em;max-width:20em;overflow-wrap:anywhere}
td.nw{white-space:nowrap}
small{color:#555}
#rollups{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4em}
#rollups li{padding:.15em .6em;border-radius:3px;background:#e8f5e9}
#rollups li.warn{background:#fff3cd}
#rollups li.crit{background:#f8d7da}
.spark{vertical-align:middle}
.spark path{fill:none;stroke:#1565c0;stroke-width:1.5}
.spark .f{fill:#c62828}
#msg.bad{color:#c62828;font-weight:bold}
button{font-size:.8em;margin-right:.15em;padding:1px 4px}
`

// statusNoScriptCSS hides the action buttons when scripts do not run.
const statusNoScriptCSS = `.act{display:none}`

// statusScript filters rows as one types, keeps the filter across its own
// reloads, and wires the drain, maint and ready buttons to the admin API.
const statusScript = `
(function () {
  "use strict";
  var filter = document.getElementById("filter");
  var count = document.getElementById("count");
  var msg = document.getElementById("msg");
  var rows = document.querySelectorAll("#backends tbody tr[data-k]");
  var busy = false;

  function apply() {
    var q = filter.value.trim().toLowerCase();
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var hit = q === "" || rows[i].getAttribute("data-k").indexOf(q) >= 0;
      rows[i].hidden = !hit;
      if (hit) { shown++; }
    }
    count.textContent = shown + " of " + count.getAttribute("data-total") + " shown";
  }
  if (location.hash.indexOf("#q=") === 0) {
    filter.value = decodeURIComponent(location.hash.substring(3));
  }
  filter.addEventListener("input", apply);
  apply();

  // Reload like the meta refresh would, keeping the filter, but not while
  // someone types or an admin call is running.
  var every = Number(document.body.getAttribute("data-refresh")) * 1000;
  setInterval(function () {
    if (busy || document.activeElement === filter) { return; }
    var u = new URL(location.href);
    u.hash = "";
    if (filter.value) { u.searchParams.set("q", filter.value); } else { u.searchParams.delete("q"); }
    location.replace(u.toString());
  }, every);

  document.getElementById("backends").addEventListener("click", function (ev) {
    var btn = ev.target.closest("button[data-act]");
    if (!btn) { return; }
    var id = btn.closest("tr").getAttribute("data-id");
    var act = btn.getAttribute("data-act");
    var body = {state: act};
    if (act !== "ready") {
      var why = prompt(act + " " + id + ": why? (optional)", "");
      if (why === null) { return; }
      if (why) { body.why = why; }
      var ttl = document.getElementById("ttl").value;
      if (ttl) { body.ttl = ttl; }
    }
    busy = true;
    btn.disabled = true;
    msg.className = "";
    msg.textContent = act + " " + id + " …";
    // Relative to the page (which may sit behind a path prefix), without
    // credentials from a user:password@ URL: fetch refuses those, and the
    // browser re-sends the credentials it authenticated the page with.
    var api = new URL("api/v1/backends/" + encodeURIComponent(id) + "/admin", location.href);
    api.username = "";
    api.password = "";
    fetch(api.toString(), {
      method: "PUT",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.text().then(function (text) {
        if (resp.ok) { location.reload(); return; }
        var detail = text;
        try { detail = JSON.parse(text).error || text; } catch (e) { /* not JSON */ }
        throw new Error(resp.status + " " + detail);
      });
    }).catch(function (err) {
      busy = false;
      btn.disabled = false;
      msg.className = "bad";
      msg.textContent = act + " " + id + " failed: " + err.message;
    });
  });
})();
`

// statusCSP allows the page's own style sheets and script (by hash), calls
// to its own origin (the admin API), and framing by its own origin only
// (no clickjacking of the buttons).
var statusCSP = "default-src 'none'; script-src " + hashSource(statusScript) +
	"; style-src " + hashSource(statusCSS) + " " + hashSource(statusNoScriptCSS) +
	"; connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'"

func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// Typed once: html/template inserts these as they are.
var (
	statusCSSValue         = template.CSS(statusCSS)
	statusNoScriptCSSValue = template.CSS(statusNoScriptCSS)
	statusScriptValue      = template.JS(statusScript)
)
