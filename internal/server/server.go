// Package server is backline's own HTTP listener: the status API, the status
// page, Prometheus metrics, a liveness endpoint, and whatever other packages
// mount on it (the auth endpoints). It only reads health snapshots; it never
// runs probes.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/connlimit"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/tlslisten"
	"github.com/prometheus/client_golang/prometheus"
)

// Mount lets another package add routes (for example the auth endpoints)
// without this package knowing about it.
type Mount interface {
	Register(mux *http.ServeMux)
}

// Options configure a Server.
type Options struct {
	Address  string
	Snapshot health.Source
	// Gatherer feeds /metrics; nil means prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	Logger   *slog.Logger
	// APIAuth protects every route (mounted ones included) but /healthz,
	// and /metrics when APIAuth.PublicMetrics is set.
	APIAuth config.APIAuth
	Mounts  []Mount
	Version string
	// ShutdownDelay keeps serving with /readyz at 503 after ctx ends and
	// before the listener closes (server.shutdown_delay).
	ShutdownDelay time.Duration
	// Router, when set, picks the routes of each request (hot reload: the
	// routes of the current configuration generation, built with Routes);
	// Mounts and APIAuth then only serve the start-up checks.
	Router Router
	// Reloader, when set, serves POST /api/v1/reload.
	Reloader Reloader
	// SlowStart, when set, lists the gateway origins whose slow_start
	// ramp runs at now, by backend ID, for the status API and page.
	SlowStart func(now time.Time) map[string]health.SlowStartRamp
}

// shutdownGrace bounds how long in-flight requests may delay a stop.
const shutdownGrace = 5 * time.Second

// Connection timeouts. A client has readHeaderTimeout to send its request
// headers; an idle keep-alive connection is closed after idleTimeout, so
// idle clients give their slot under server.max_connections back (nginx's
// keepalive_timeout is 75 s, HAProxy's usual http-keep-alive far shorter).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 60 * time.Second
	// maxRequestHead bounds a request line and headers (net/http's default
	// is 1 MiB, and the auth endpoints log some header values as sent).
	// nginx's auth_http and Dovecot send well under 8 KiB; the gateway's
	// listener has the same limit.
	maxRequestHead = 64 << 10
)

// Server serves the routes described in the package comment.
type Server struct {
	opts    Options
	log     *slog.Logger
	auth    apiAuth
	handler http.Handler

	stopping  atomic.Bool   // /readyz answers "stopping" (readyz.go)
	skipDelay chan struct{} // tests: closing it ends the shutdown delay
	// addr is the address ServeListener serves on, for Routes' warning.
	addr atomic.Pointer[string]
}

// New builds the handler. Problems with API credentials (an unreadable
// password file, an empty password) do not panic: Serve reports them, and
// until then the handler refuses every request but /healthz rather than
// serving it open.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.DefaultGatherer
	}
	s := &Server{opts: opts, log: opts.Logger}
	s.auth = loadAPIAuth(opts.APIAuth)
	if opts.Router != nil {
		s.handler = s.accessLog(s.routed(opts.Router))
	} else {
		s.handler = s.accessLog(sameOriginOnly(s.refuseRebinding(s.auth, protect(s.auth, s.routes(opts.Mounts)))))
	}
	return s
}

// Handler returns the complete handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve listens on Options.Address and serves until ctx is done.
func (s *Server) Serve(ctx context.Context) error {
	if s.auth.err != nil {
		return s.auth.err
	}
	ln, err := net.Listen("tcp", s.opts.Address)
	if err != nil {
		return fmt.Errorf("server.address %q: %w", s.opts.Address, err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener serves on ln (which it closes) until ctx is done, then shuts
// down gracefully, waiting at most five seconds for in-flight requests.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	if s.auth.err != nil {
		_ = ln.Close()
		return s.auth.err
	}
	addr := ln.Addr().String()
	s.addr.Store(&addr)
	if !isLoopback(addr) && !s.auth.enabled() {
		s.log.Warn("API is reachable from the network without authentication; set server.api_auth",
			"address", addr)
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxRequestHead,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		HTTP2:             tlslisten.HTTP2Config(),
	}
	capped := ln
	if tl, ok := ln.(*tlslisten.Listener); ok {
		capped = tl.Inner() // server.tls: the handshake is done before net/http sees a connection
	}
	if l, ok := capped.(*connlimit.Listener); ok {
		hs.ConnState = l.ConnState // a capped listener closes idle connections at its cap
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("HTTP server listening", "address", addr)

	select {
	case err := <-errc:
		return fmt.Errorf("HTTP server on %s: %w", addr, err)
	case <-ctx.Done():
	}
	s.drainBeforeShutdown()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		_ = hs.Close()
		s.log.Warn("HTTP server stopped with requests still running", "grace", shutdownGrace)
		err = nil
	}
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	s.log.Info("HTTP server stopped", "address", addr)
	return err
}

// isLoopback tells whether a listen address only accepts local clients. An
// empty or wildcard host listens everywhere, so it is not loopback.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return config.IsLoopbackHost(host)
}
