package server

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes builds the mux with the built-in routes and mounts. Unmatched requests get JSON errors: 404 for an
// unknown path, 405 with an Allow header for a known path and wrong method.
func (s *Server) routes(mounts []Mount) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.statusPage)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{
		ErrorLog: slogPrinter{s.log},
	}))
	mux.HandleFunc("GET /api/v1/backends", s.listBackends)
	mux.HandleFunc("GET /api/v1/backends/{name...}", s.oneBackend)
	s.registerReload(mux)
	for _, m := range mounts {
		m.Register(mux)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.serveAdmin(w, r) || s.serveRecheck(w, r) {
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			// The mux's own 404/405 (or a clean-path redirect): keep its
			// status and headers, replace the plain-text body with JSON.
			w = &jsonErrorWriter{ResponseWriter: w}
		}
		mux.ServeHTTP(w, r)
	})
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// jsonErrorWriter turns the mux's plain-text error responses into JSON.
type jsonErrorWriter struct {
	http.ResponseWriter
	replaced bool
}

func (w *jsonErrorWriter) WriteHeader(status int) {
	if status < 400 {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.replaced = true
	w.Header().Del("X-Content-Type-Options")
	msg := http.StatusText(status)
	if status == http.StatusNotFound {
		msg = "no such endpoint"
	}
	writeError(w.ResponseWriter, status, msg)
}

func (w *jsonErrorWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

type healthzBody struct {
	Status string `json:"status"`
	// FirstRound tells whether the first probe round has finished; before
	// that every backend shows its configured initial state.
	FirstRound bool   `json:"first_round"`
	Version    string `json:"version,omitempty"`
}

// healthz answers 200 whenever the process serves HTTP: it is a liveness
// check of backline, not of the backends.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	body := healthzBody{Status: "ok", Version: s.opts.Version}
	if s.snapshot() != nil && s.firstRoundDone() {
		body.FirstRound = true
	}
	writeJSON(w, http.StatusOK, body)
}
