package demo

import (
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"sync"
)

// breakable is a fake whose failure the demo page switches.
type breakable interface{ setBroken(bool) }

var switchMu sync.Mutex

// SetBroken breaks or repairs the fake called name.
func (e *Env) SetBroken(name string, broken bool) error {
	switchMu.Lock()
	defer switchMu.Unlock()
	s, ok := e.switches[name]
	if !ok {
		return fmt.Errorf("no fake backend %q", name)
	}
	s.setBroken(broken)
	for i := range e.Backends {
		if e.Backends[i].Name == name {
			e.Backends[i].Broken = broken
		}
	}
	return nil
}

// backendsNow is a copy of the fakes and their current state.
func (e *Env) backendsNow() []Backend {
	switchMu.Lock()
	defer switchMu.Unlock()
	out := append([]Backend(nil), e.Backends...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Control is the demo's own page, /demo: a break and a repair button per
// fake backend, so the status page can be watched reacting. It is mounted
// on the daemon's listener like the auth endpoints (so api_auth and the
// cross-origin guard apply); plain HTML forms, no script.
type Control struct{ Env *Env }

// Register adds /demo and its form targets.
func (c Control) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /demo", c.page)
	mux.HandleFunc("POST /demo/backends/{name}/{action}", c.act)
}

func (c Control) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	_ = controlPage.Execute(w, c.Env.backendsNow())
}

func (c Control) act(w http.ResponseWriter, r *http.Request) {
	var broken bool
	switch r.PathValue("action") {
	case "break":
		broken = true
	case "repair":
	default:
		http.Error(w, "action must be break or repair", http.StatusNotFound)
		return
	}
	if err := c.Env.SetBroken(r.PathValue("name"), broken); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	http.Redirect(w, r, "/demo", http.StatusSeeOther)
}

var controlPage = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>backline demo: break and repair</title></head>
<body>
<h1>backline demo: fake backends</h1>
<p>Break a backend, then watch the <a href="/">status page</a> mark it down within a check interval
(2 s) and the auth endpoints stop handing it out; repair it and it comes back.</p>
<table>
<tr><th>backend</th><th>address</th><th>state</th><th></th><th></th></tr>
{{range .}}<tr>
<td>{{.Name}}</td><td>{{.Address}}</td><td>{{if .Broken}}broken{{else}}working{{end}}</td>
<td><form method="post" action="/demo/backends/{{.Name}}/break"><button{{if .Broken}} disabled{{end}}>break</button></form></td>
<td><form method="post" action="/demo/backends/{{.Name}}/repair"><button{{if not .Broken}} disabled{{end}}>repair</button></form></td>
</tr>
{{end}}</table>
<p>{{len .}} fakes on 127.0.0.1. <a href="/api/v1/backends">JSON status</a></p>
</body></html>
`))
