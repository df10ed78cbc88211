// Package gateway is backline's HTTP gateway: endpoints that proxy to
// Couper-style backend blocks (config -> compiled templates -> a backend as
// a round tripper with pools, limits, throttle and health gate).
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/connlimit"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/tlslisten"
)

// Options configure New.
type Options struct {
	Config *config.Config
	// Health gives backend health; may be nil and set later with SetHealth.
	// Until then every backend counts as healthy.
	Health     health.Source
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Dial replaces the network dialer for every backend (tests).
	Dial DialFunc
	// Env resolves ${env.NAME}; nil means the process environment.
	Env func(string) (string, bool)
	// Metrics, when set, are series shared by the gateways of successive
	// configurations (hot reload, see reload.go); Registerer is then unused
	// and the gateway shows its connections once Activate is called.
	Metrics *Metrics
	// Throttles, when set, counts backend throttles across instances
	// (storage.redis); nil counts them in this gateway's memory.
	Throttles *SharedThrottles
	// AccessLogger, when set, takes the access log lines
	// (gateway.access_log_file); nil logs them with Logger.
	AccessLogger *slog.Logger
}

// Gateway serves gateway.endpoints.
type Gateway struct {
	cfg      *config.Config
	logger   *slog.Logger
	dial     DialFunc
	router   router
	backends map[string]*backendRuntime // by definitions label
	views    map[string]*backendView    // a label's unrefined view
	runtimes []*backendRuntime          // labels and anonymous ones
	metrics  *metrics
	health   atomic.Pointer[sourceBox]
	ids      requestIDs
	shared   *SharedThrottles
	reqIDs   requestIDSettings
	trusted  trustedProxies // gateway.trusted_proxies
	// accessLog writes a line per request (gateway.access_log).
	accessLog bool
	logFields valueSet // gateway.custom_log_fields, for every access line
	// plainLaneOff sends every request the header-map way (tests compare
	// the plain lane, plain.go, with it).
	plainLaneOff bool
	// accessLogger writes the access lines: Options.AccessLogger or the
	// gateway's logger.
	accessLogger *slog.Logger
	// tokenCtx bounds token fetches (token_cache.go); Close ends it.
	tokenCtx   context.Context
	stopTokens context.CancelFunc
}

type sourceBox struct{ src health.Source }

// New compiles the gateway part of cfg. Template errors come back as
// config.Errors naming the key path and line.
func New(opts Options) (*Gateway, error) {
	if opts.Config == nil {
		return nil, errors.New("gateway: no configuration")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, shared := (*metrics)(nil), opts.Metrics != nil
	if shared {
		m = opts.Metrics.m
	} else {
		var err error
		if m, err = newMetrics(opts.Registerer); err != nil {
			return nil, fmt.Errorf("gateway metrics: %w", err)
		}
	}
	g := &Gateway{
		cfg: opts.Config, logger: logger, dial: opts.Dial, metrics: m, shared: opts.Throttles,
		backends: map[string]*backendRuntime{}, views: map[string]*backendView{},
	}
	g.ids.prefix = newRequestIDPrefix()
	g.reqIDs = newRequestIDSettings(&opts.Config.Gateway.RequestID)
	g.trusted = opts.Config.Gateway.TrustedProxyPrefixes()
	g.accessLog, g.accessLogger = opts.Config.Gateway.AccessLogEnabled(), logger
	if opts.AccessLogger != nil {
		g.accessLogger = opts.AccessLogger
	}
	g.tokenCtx, g.stopTokens = context.WithCancel(context.Background())
	if opts.Health != nil {
		g.SetHealth(opts.Health)
	}
	c := &compiler{cfg: opts.Config, env: opts.Env}
	g.logFields = c.values("gateway.custom_log_fields", opts.Config.Gateway.CustomLogFields)
	defs := &opts.Config.Definitions
	for _, label := range defs.SortedLabels() {
		b := defs.Backends[label]
		rt, err := g.newRuntime(label, b)
		if err != nil {
			c.errs.Add(b.Path, opts.Config.Lines.Line(b.Path), "%v", err)
			continue
		}
		if b.Health != nil {
			rt.group = GroupPrefix + label
		}
		g.backends[label] = rt
		g.views[label] = c.backendView(rt, b)
	}
	for i := range opts.Config.Gateway.Endpoints {
		e := &opts.Config.Gateway.Endpoints[i]
		path := fmt.Sprintf("gateway.endpoints[%d]", i)
		ep, err := g.compileEndpoint(c, path, e)
		if err != nil {
			c.errs.Add(path, opts.Config.Lines.Line(path), "%v", err)
			continue
		}
		r := compileRoute(e.Path)
		r.methods, r.endpoint, r.order = e.Methods, ep, i
		g.router.routes = append(g.router.routes, r)
	}
	// Token backends are resolved now that every label exists; they may
	// add views of their own.
	for i := 0; i < len(c.views); i++ {
		g.compileAuth(c, c.views[i])
	}
	for _, v := range c.views {
		v.chain = g.buildLayers(v)
	}
	for _, r := range g.router.routes {
		r.endpoint.plain = g.plainProxy(r.endpoint) // once its backend's tokens are known
	}
	if len(c.errs) > 0 {
		g.stopTokens()
		if shared {
			opts.Metrics.forgetUnused(g.runtimes) // a refused reload leaves no series behind
		}
		sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].Line < c.errs[j].Line })
		return nil, c.errs
	}
	g.metrics.ramps.built()
	if !shared {
		g.Activate()
	}
	return g, nil
}

// GroupPrefix starts the health group name of a gateway backend.
const GroupPrefix = "gateway:"

func (g *Gateway) newRuntime(name string, b *config.Backend) (*backendRuntime, error) {
	ts, err := newTransportSet(name, b, g.dial)
	if err != nil {
		return nil, err
	}
	oa, err := newOpenAPIValidator(b.OpenAPI)
	if err != nil {
		return nil, err
	}
	rt := &backendRuntime{name: name, transports: ts, metrics: g.metrics.forBackend(name), openapi: oa, origins: newOriginSet(name, b, g.metrics.ramps)}
	rt.origins.watchPanic(g.logger, g.metrics)
	rt.releaseSlotFunc = rt.releaseSlot
	rt.slots = newSlotQueue(b.MaxConnections, b.MaxQueue, b.QueueTimeout, rt.publishSlotQueue)
	rt.throttle = newThrottle(name, b.RateLimits, g.shared, rt.publishThrottleQueue)
	g.runtimes = append(g.runtimes, rt)
	return rt, nil
}

// SetHealth sets (or replaces) where backend health is read from.
func (g *Gateway) SetHealth(src health.Source) { g.health.Store(&sourceBox{src: src}) }

// Handler returns the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g }

// Serve listens on gateway.address until ctx ends.
func (g *Gateway) Serve(ctx context.Context) error {
	addr := g.cfg.Gateway.Address
	if addr == "" {
		return errors.New("gateway.address is not set")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("gateway.address %q: %w", addr, err)
	}
	return g.ServeListener(ctx, ln)
}

// Client-side limits of the gateway listener. A request head gets 10 s
// (HAProxy's usual "timeout http-request"), a keep-alive connection may
// idle for 30 s (nginx keeps 75 s, HAProxy setups commonly 10 s; idle
// connections cost a file descriptor each), and a head may take 64 KiB
// (nginx: 4 buffers of 8k; net/http's default is 1 MiB).
const (
	clientHeaderTimeout = 10 * time.Second
	clientIdleTimeout   = 30 * time.Second
	maxClientHead       = 64 << 10
)

// newServer is the gateway's HTTP server; its listener must be wrapped by
// wrapListener so that request framing can be checked (framing.go).
func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: clientHeaderTimeout,
		IdleTimeout:       clientIdleTimeout,
		MaxHeaderBytes:    maxClientHead,
		ConnContext:       framingContext,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		HTTP2:             tlslisten.HTTP2Config(),
	}
}

func wrapListener(ln net.Listener) net.Listener { return framingListener{ln} }

// ServeListener serves on ln until ctx ends, then drains for up to 10 s.
func (g *Gateway) ServeListener(ctx context.Context, ln net.Listener) error {
	err := ServeHandler(ctx, ln, g, g.logger, g.cfg.Gateway.HTTP1Server)
	g.Close()
	return err
}

// ServeHandler serves h on ln with the gateway's client-side limits and
// request framing checks until ctx ends, then drains for up to 10 s. h
// must end in a Gateway's ServeHTTP (hot reload passes one that picks the
// current gateway for each request).
//
// server is gateway.http1_server: a plain listener is served by the
// gateway's own HTTP/1.1 server (h1server.go) unless it is "net/http"; a
// TLS listener is always served by net/http (HTTP/2).
func ServeHandler(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, server string) error {
	return serveHandler(ctx, ln, h, logger, server, 10*time.Second)
}

// serveHandler is ServeHandler with the drain time (tests take less).
func serveHandler(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, server string, drain time.Duration) error {
	var capped net.Listener = ln
	if tl, ok := ln.(*tlslisten.Listener); ok {
		// gateway.tls: the plain path keeps its handler as it was.
		h, capped = tlsRequests{h}, tl.Inner()
	}
	if _, isTLS := ln.(*tlslisten.Listener); !isTLS && server != config.HTTP1ServerNetHTTP {
		s := &h1Server{h: h, logger: logger}
		if l, ok := ln.(*connlimit.Listener); ok {
			s.connState = l.ConnState
		}
		return s.serve(ctx, ln, drain)
	}
	srv := newServer(h, logger)
	// A capped listener (connlimit, gateway.max_connections) closes idle
	// connections to make room at its cap.
	if l, ok := capped.(*connlimit.Listener); ok {
		srv.ConnState = l.ConnState
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(wrapListener(ln)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	<-errc
	return err
}

// tlsRequests gives an HTTP/1 request on a TLS connection its r.TLS: the
// framingConn over the *tls.Conn hides the handshake from net/http (see
// framingListener). h2 requests have it from net/http already.
//
// An h2 request may carry a Host field next to :authority, which is
// r.Host; net/http's h2 server leaves the field in r.Header, where an
// HTTP/1 request never has one (net/http moves it to r.Host). It is
// dropped, so ${request.headers.host} cannot name another host than the
// one the request is served and logged under (RFC 9113 §8.3.1: a client
// must not send one that differs).
type tlsRequests struct{ h http.Handler }

func (t tlsRequests) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 {
		delete(r.Header, "Host")
	}
	if r.TLS == nil {
		if fc, ok := r.Context().Value(framingConnKey{}).(*framingConn); ok {
			r.TLS = fc.tls
		}
	}
	t.h.ServeHTTP(w, r)
}

// Close drops idle upstream connections and ends token fetches still
// running (it is called once the last request has ended).
func (g *Gateway) Close() {
	g.stopTokens()
	for _, rt := range g.runtimes {
		rt.transports.closeIdle()
	}
}

// requestIDs are a random process prefix and a counter: unique, cheap, and
// not guessable across restarts.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDPrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b) + "-"
}

func (ids *requestIDs) next() string {
	// Built on the stack: one allocation (the string), not two.
	var buf [48]byte
	return string(strconv.AppendUint(append(buf[:0], ids.prefix...), ids.n.Add(1), 10))
}
