package server

import (
	"net/http"
	"net/http/pprof"
)

// PprofMount serves Go's profiler under /debug/pprof/ (server.pprof). It
// is mounted like the auth endpoints, so api_auth, the cross-origin guard
// and the DNS-rebinding guard apply to it as to every API route.
type PprofMount struct{}

// Register adds the profiler's routes.
func (PprofMount) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
