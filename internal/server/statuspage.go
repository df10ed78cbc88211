package server

import (
	"html/template"
	"net/http"
	"time"

	"github.com/backline/backline/internal/health"
)

// statusRefresh is how often the browser reloads the status page.
const statusRefresh = 5

// The page is plain HTML with a meta refresh: no JavaScript, and
// html/template escapes every value that comes from configuration or from a
// server's reply.
var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return time.Since(t).Round(time.Second).String() + " ago"
	},
	"ms": func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() },
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"name": func(b health.Backend) string { return backendName(b.Target) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{{.Refresh}}">
<title>backline: {{.Healthy}}/{{.Total}} backends healthy</title>
<style>
body{font-family:sans-serif;margin:1.5em}
table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
.up{background:#dfd}.down{background:#fdd}
small{color:#555}
</style>
</head>
<body>
<h1>backline</h1>
<p>{{.Healthy}} of {{.Total}} backends healthy.
{{if .Round}}Round {{.Round}}, finished {{ago .Taken}}.{{else}}The first probe round has not finished yet; states are the configured initial state.{{end}}
<small>Version {{.Version}}. JSON: <a href="/api/v1/backends">/api/v1/backends</a>, metrics: <a href="/metrics">/metrics</a>.</small></p>
<table>
<tr><th>backend</th><th>group</th><th>state</th><th>since</th><th>connect</th><th>deep</th><th>last error</th><th>certificate until</th></tr>
{{range .Backends}}<tr class="{{if .Healthy}}up{{else}}down{{end}}">
<td>{{name .}}<br><small>{{.Target.Protocol}} {{.Target.TLSMode}}{{if .Target.HAProxyV2}} proxy-v2{{end}}{{if .Mechanism}} {{.Mechanism}}{{end}}</small></td>
<td>{{.Group}}</td>
<td>{{if .Healthy}}healthy{{else}}unhealthy{{end}}</td>
<td>{{ago .Since}}</td>
<td>{{if .Connect.Healthy}}ok{{else}}failing{{end}} <small>{{ms .Connect.Latency}}, checked {{ago .Connect.LastCheck}}</small></td>
<td>{{if .Target.DeepCheck}}{{if .Deep.Healthy}}ok{{else}}failing{{end}} <small>{{ms .Deep.Latency}}, checked {{ago .Deep.LastCheck}}</small>{{else}}<small>off</small>{{end}}</td>
<td>{{with .Deep.LastError}}{{.}}{{else}}{{.Connect.LastError}}{{end}}</td>
<td>{{date .CertNotAfter}}</td>
</tr>
{{else}}<tr><td colspan="8">No backends configured.</td></tr>
{{end}}</table>
</body>
</html>
`))

type statusData struct {
	Refresh  int
	Version  string
	Round    uint64
	Taken    time.Time
	Healthy  int
	Total    int
	Backends []health.Backend
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	data := statusData{Refresh: statusRefresh, Version: s.opts.Version}
	if snap := s.snapshot(); snap != nil {
		data.Round, data.Taken = snap.Round, snap.Taken
		for _, b := range snap.Backends {
			if b.Target == nil {
				continue
			}
			data.Backends = append(data.Backends, b)
			if b.Healthy {
				data.Healthy++
			}
		}
	}
	data.Total = len(data.Backends)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := statusTemplate.Execute(w, data); err != nil {
		s.log.Error("status page rendering failed", "error", err)
	}
}
