package server

import "html/template"

// The page is server-rendered and complete without JavaScript: every row
// is in the HTML, problems first, and a meta refresh (inside noscript)
// reloads it. With JavaScript a small inline script filters rows as one
// types, keeps the filter across its own reloads, and wires the drain,
// maint and ready buttons to the admin API (the browser re-sends the basic
// auth credentials it used for the page). html/template escapes every value
// of the page's frame; the rows are written by writeRows (see there), which
// escapes every value the same way.
var statusTemplate = template.Must(template.New("status").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="{{.Refresh}}"></noscript>
<title>backline: {{.Healthy}}/{{.Total}} backends healthy</title>
<style>
body{font:14px/1.35 system-ui,sans-serif;margin:1em;color:#111}
h1{font-size:1.4em;margin:.2em 0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#eee}
td.st{font-weight:bold;color:#fff;background:#6d4c41}
tr.s-up td.st{background:#2e7d32}
tr.s-down td.st{background:#c62828}
tr.s-stale td.st{background:#ef6c00}
tr.s-drain td.st,tr.s-maint td.st{background:#1565c0}
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
</style>
<noscript><style>.act{display:none}</style></noscript>
</head>
<body data-refresh="{{.Refresh}}">
<h1>backline</h1>
<p>{{.Healthy}} of {{.Total}} backends healthy, <span id="problems">{{.Problems}}</span> need attention.
{{if .Round}}Round {{.Round}}, finished {{.Taken}}.{{else}}The first probe round has not finished yet; states are the configured initial state.{{end}}
<small>Page rendered {{.Now}}.{{with .Version}} Version {{.}}.{{end}} JSON: <a href="api/v1/backends">/api/v1/backends</a>, metrics: <a href="metrics">/metrics</a>.</small></p>
<ul id="rollups">{{range .Rollups}}<li class="{{.Class}}">{{.Name}}: {{.Up}}/{{.Total}} up{{if ne .Eligible .Up}}, {{.Eligible}} eligible{{end}}</li>{{end}}</ul>
<form method="get" action="" id="filterform">
<label>Filter <input type="search" id="filter" name="q" value="{{.Query}}" placeholder="name, group, host:port, state, who…" autocomplete="off"></label>
<button type="submit">filter</button>
<span id="count" data-total="{{.Total}}">{{.Shown}} of {{.Total}} shown</span>
<span class="act">· drain/maint for <select id="ttl"><option value="">no limit</option><option>30m</option><option>1h</option><option>4h</option><option>24h</option></select></span>
</form>
<p id="msg" role="status"></p>
<table id="backends">
<thead><tr><th>state</th><th>backend</th><th>group</th><th>host:port</th><th>for</th><th>admin</th><th>last check</th><th>error</th><th>latency, last hour</th><th>uptime 1 h / 24 h</th><th>certificate</th><th class="act">actions</th></tr></thead>
<tbody>
{{with .RowsHTML}}{{.}}{{else}}<tr><td colspan="12">No backends {{if .Query}}match the filter{{else}}configured{{end}}.</td></tr>
{{end}}</tbody>
</table>
<script>
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
</script>
</body>
</html>
`))
