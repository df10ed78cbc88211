package server

import (
	"net/http"
	"time"

	"github.com/backline/backline/internal/config"
)

// Router gives each request the routes it is served with. A hot reload
// builds a new set with Routes and makes it current; a request keeps the
// set it started with until it ends, and then calls release, so the
// owner can free an old set's resources (Lua states, upstream
// connections) once nothing runs on it any more.
type Router interface {
	Routes() (h http.Handler, release func())
}

// Routes builds the complete routes for one configuration generation: the
// built-in ones, the mounts, all behind apiAuth. A credentials file that
// cannot be read is an error here (a reload is then refused) rather than a
// handler that refuses every request.
func (s *Server) Routes(apiAuth config.APIAuth, mounts []Mount) (http.Handler, error) {
	a := loadAPIAuth(apiAuth)
	if a.err != nil {
		return nil, a.err
	}
	if addr := s.addr.Load(); addr != nil && !isLoopback(*addr) && !a.enabled() {
		s.log.Warn("API is reachable from the network without authentication; set server.api_auth",
			"address", *addr)
	}
	return sameOriginOnly(s.refuseRebinding(a, protect(a, s.routes(mounts)))), nil
}

// routed serves each request on the routes the router gives it.
func (s *Server) routed(router Router) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, release := router.Routes()
		defer release()
		h.ServeHTTP(w, r)
	})
}

// Reloader reloads the configuration file (POST /api/v1/reload).
type Reloader interface {
	Reload() ReloadResult
}

// ReloadResult is what one reload did. Errors empty means it succeeded.
type ReloadResult struct {
	// Generation counts the configurations the daemon has run, 1 being the
	// one it started with; on failure it is the one still running.
	Generation uint64
	Duration   time.Duration
	// Errors are the problems found, each with its key path and line
	// where it has one; the running configuration stays.
	Errors []string
}

type reloadBody struct {
	Status     string   `json:"status"`
	Generation uint64   `json:"generation"`
	DurationMS int64    `json:"duration_ms"`
	Errors     []string `json:"errors,omitempty"`
}

// registerReload adds POST /api/v1/reload when the daemon can reload.
func (s *Server) registerReload(mux *http.ServeMux) {
	if s.opts.Reloader == nil {
		return
	}
	mux.HandleFunc("POST /api/v1/reload", s.reload)
}

// reload answers 200 with the new generation, or 422 with every error
// while the old configuration keeps running.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	res := s.opts.Reloader.Reload()
	body := reloadBody{Status: "ok", Generation: res.Generation, DurationMS: res.Duration.Milliseconds()}
	status := http.StatusOK
	if len(res.Errors) > 0 {
		body.Status, body.Errors, status = "failed", res.Errors, http.StatusUnprocessableEntity
	}
	writeJSON(w, status, body)
}
