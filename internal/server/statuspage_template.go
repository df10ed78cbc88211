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
<style>{{.CSS}}</style>
<noscript><style>{{.NoScriptCSS}}</style></noscript>
</head>
<body data-refresh="{{.Refresh}}">
<h1>backline</h1>
<p>{{.Healthy}} of {{.Total}} backends healthy, <span id="problems">{{.Problems}}</span> need attention.
{{if .Round}}Round {{.Round}}, finished {{.Taken}}.{{else}}The first probe round has not finished yet; states are the configured initial state.{{end}}
<small>Page rendered {{.Now}}.{{with .Version}} Version {{.}}.{{end}} JSON: <a href="api/v1/backends">/api/v1/backends</a>, metrics: <a href="metrics">/metrics</a>.</small></p>
<ul id="rollups">{{range .Rollups}}<li class="{{.Class}}">{{.Name}}: {{.Up}}/{{.Total}} up{{if ne .Eligible .Up}}, {{.Eligible}} eligible{{end}}{{if .Panic}}, panic mode{{end}}</li>{{end}}</ul>
<form method="get" action="" id="filterform">
<label>Filter <input type="search" id="filter" name="q" value="{{.Query}}" placeholder="name, group, host:port, state, who…" autocomplete="off"></label>
<button type="submit">filter</button>
<span id="count" data-total="{{.Total}}">{{.Shown}} of {{.Total}} shown</span>
<span class="act">· drain/maint for <select id="ttl"><option value="">no limit</option><option>30m</option><option>1h</option><option>4h</option><option>24h</option></select></span>
</form>
<p id="msg" role="status"></p>
<table id="backends">
<thead><tr><th>state</th><th>backend</th><th>group</th><th>host:port</th><th>for</th><th>admin</th><th>last check</th><th>error</th><th>latency, last hour</th><th title="share of the checked time the backend was healthy">uptime 1 h / 24 h / 7 d</th><th>certificate</th><th class="act">actions</th></tr></thead>
<tbody>
{{with .RowsHTML}}{{.}}{{else}}<tr><td colspan="12">No backends {{if .Query}}match the filter{{else}}configured{{end}}.</td></tr>
{{end}}</tbody>
</table>
<script>{{.Script}}</script>
</body>
</html>
`))
