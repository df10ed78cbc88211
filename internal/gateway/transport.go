package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/redact"
)

// DialFunc opens a connection; Options.Dial replaces net.Dialer (tests use
// it to simulate an origin that never answers the handshake).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// defaultIdlePerHost keeps enough idle connections for a busy unlimited
// backend; Go's default of 2 makes a proxy reconnect under load.
const defaultIdlePerHost = 256

// transportKey identifies a pool: one per distinct destination, so an
// origin taken from the request is honoured every time instead of being
// pinned by the first request (Couper issue #982).
type transportKey struct {
	scheme     string
	hostPort   string
	serverName string
	proxy      string
}

// poolKey is a pool's key in a transportSet: the destination, and the
// client's address when the backend sends proxy_protocol (proxyproto.go),
// whose header names one client for a connection's life. It is kept out
// of transportKey, which every request carries.
type poolKey struct {
	transportKey
	client netip.Addr
}

// maxPoolsPerBackend bounds the pools an origin taken from the request can
// create: past it the least recently used pool is closed.
const maxPoolsPerBackend = 64

// requestLimits are one request's timeouts: connect and ttfb (0: none) and
// the total deadline (zero: none).
type requestLimits struct {
	connect, ttfb time.Duration
	deadline      time.Time
	// sending is when sendLayer handed the request to the transport
	// (zero: take the time), for the idle check and the ttfb clock.
	sending time.Time
}

// upstreamTransport sends requests to one destination. A failure past the
// deadline wraps errDeadline, a ttfb timeout is errTTFBTimeout.
type upstreamTransport interface {
	roundTrip(ctx context.Context, req *http.Request, limits requestLimits) (*http.Response, error)
	closeIdle()
	close()
	evictOne() bool
	lastUsed() time.Time
}

// transportSet is a backend's pools, created on first use per destination
// and sharing the backend's connection counter and limit.
type transportSet struct {
	name         string
	tlsBase      *tls.Config
	http2        bool
	h2c          bool
	noReuse      bool
	maxConns     int
	dial         DialFunc
	conns        *connCounter
	proxyFromEnv func(*http.Request) (*url.URL, error)
	// proxyProtocol is the PROXY header version sent to origins; 0: none.
	proxyProtocol byte

	mu    sync.Mutex
	pools map[poolKey]upstreamTransport
}

// connectTimeoutKey carries the effective connect_timeout to the dialer: the
// pool is shared by refinements, which may set their own.
type connectTimeoutKey struct{}

func newTransportSet(name string, b *config.Backend, dial DialFunc) (*transportSet, error) {
	base, err := backendTLSConfig(b)
	if err != nil {
		return nil, err
	}
	if dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		dial = d.DialContext
	}
	return &transportSet{
		name: name, tlsBase: base, http2: b.HTTP2, h2c: b.HTTP2PriorKnowledge,
		noReuse: b.DisableConnectionReuse, maxConns: b.MaxConnections, dial: dial,
		conns: &connCounter{}, proxyFromEnv: http.ProxyFromEnvironment,
		proxyProtocol: proxyProtocolVersion(b.ProxyProtocol), pools: map[poolKey]upstreamTransport{},
	}, nil
}

// idleCap is how many idle connections one pool keeps: enough for a busy
// unlimited backend (Go's default of 2 makes a proxy reconnect under load,
// Couper's performance trap), or all of max_connections.
func (s *transportSet) idleCap() int {
	if s.maxConns > 0 {
		return s.maxConns
	}
	return defaultIdlePerHost
}

// get returns the pool for dest and client (zero: no proxy_protocol),
// creating it on first use.
func (s *transportSet) get(dest transportKey, client netip.Addr) (upstreamTransport, error) {
	key := poolKey{dest, client}
	s.mu.Lock()
	if t, ok := s.pools[key]; ok {
		s.mu.Unlock()
		return t, nil
	}
	t, err := s.build(key)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	var dropped upstreamTransport
	if len(s.pools) >= maxPoolsPerBackend {
		dropped = s.dropLeastRecentlyUsed()
	}
	s.pools[key] = t
	s.mu.Unlock()
	if dropped != nil {
		dropped.close()
	}
	return t, nil
}

// dropLeastRecentlyUsed removes that pool and returns it for closing once
// s.mu is released: closing a TLS connection may block for seconds.
func (s *transportSet) dropLeastRecentlyUsed() upstreamTransport {
	var oldest poolKey
	var at time.Time
	for k, t := range s.pools {
		if u := t.lastUsed(); at.IsZero() || u.Before(at) {
			oldest, at = k, u
		}
	}
	t := s.pools[oldest]
	delete(s.pools, oldest)
	return t
}

// build picks backline's own HTTP/1.1 client where it applies and net/http's
// Transport for what it does not do: forward proxies, HTTP/2 and h2c.
func (s *transportSet) build(key poolKey) (upstreamTransport, error) {
	proxy, err := s.proxyFor(key.transportKey)
	if err != nil {
		return nil, err
	}
	if proxy != nil && s.proxyProtocol != 0 {
		// Config refuses proxy with proxy_protocol; this is the
		// environment's (HTTP_PROXY), which must not take the header.
		return nil, errors.New("proxy_protocol: the origin is reached through a forward proxy from the environment (HTTP_PROXY/HTTPS_PROXY), which cannot carry the PROXY header; exempt the origin with NO_PROXY")
	}
	// h2c is skipped when a proxy applies, as in Couper: the proxy speaks
	// HTTP/1.1.
	useH2 := (s.http2 && key.scheme == "https") || (s.h2c && key.scheme == "http" && proxy == nil)
	if proxy == nil && !useH2 {
		return newH1Pool(s, key), nil
	}
	return s.buildStd(key, proxy), nil
}

// proxyFor is the backend's proxy, or the environment's (HTTP_PROXY and
// friends, which exempt loopback origins) when it has none.
func (s *transportSet) proxyFor(key transportKey) (*url.URL, error) {
	if key.proxy != "" {
		u, err := url.Parse(key.proxy)
		if err != nil {
			// net/url quotes the raw value, password and all.
			return nil, fmt.Errorf("proxy: %s", redact.URLParseError(key.proxy, err))
		}
		return u, nil
	}
	probe := &http.Request{URL: &url.URL{Scheme: key.scheme, Host: key.hostPort}}
	u, err := s.proxyFromEnv(probe)
	if err != nil {
		// net/http quotes HTTP_PROXY as set ("invalid proxy address
		// \"http://user:pa/ss@proxy:3128\""), which net/url may not parse.
		return nil, errors.New(proxyEnvError(err))
	}
	return u, nil
}

// proxyEnvError is an error of the environment's proxy function as the
// gateway reports it. Go 1.26's net/http never returns one for a bad
// HTTP_PROXY (it ignores a value neither it nor "http://"+it parses, and
// config warns about one at check, start and reload); this is a guard
// for a version that does. Its "invalid proxy address %q: %v" quotes the
// value, password and all, in a form URL redaction may not parse (and
// url.Parse's cause quotes it again), so nothing after the words is
// kept: the config warning names the variable and what is wrong.
func proxyEnvError(err error) string {
	const from = "proxy from the environment (HTTP_PROXY/HTTPS_PROXY): "
	const invalid = "invalid proxy address"
	text := err.Error()
	if strings.HasPrefix(text, invalid) {
		return from + invalid + " (value withheld; backline check names the problem)"
	}
	return from + redact.ErrorText(text)
}

// dialContext is net/http's dialer: the connect timeout comes with ctx.
func (s *transportSet) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d, _ := ctx.Value(connectTimeoutKey{}).(time.Duration)
	return s.dialTimeout(ctx, network, addr, d)
}

func (s *transportSet) dialTimeout(ctx context.Context, network, addr string, timeout time.Duration) (net.Conn, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if s.maxConns > 0 && int(s.conns.open.Load()) >= s.maxConns {
		// The slot queue keeps in-flight requests under the limit, so a
		// dial at the limit means idle connections of another destination
		// hold the room: close one.
		s.evictIdle()
	}
	c, err := s.dial(ctx, network, addr)
	if err != nil {
		return nil, &dialError{backend: s.name, addr: addr, err: err}
	}
	return s.conns.wrap(c), nil
}

func (s *transportSet) evictIdle() {
	s.mu.Lock()
	pools := make([]upstreamTransport, 0, len(s.pools))
	for _, t := range s.pools {
		pools = append(pools, t)
	}
	s.mu.Unlock()
	for _, t := range pools {
		if t.evictOne() {
			return
		}
	}
}

// closeIdle drops every idle connection (shutdown).
func (s *transportSet) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.pools {
		t.closeIdle()
	}
}

// dialError marks a failure to connect, which Couper reports as a plain
// backend error (502) even when it was the connect timeout.
type dialError struct {
	backend, addr string
	err           error
}

func (e *dialError) Error() string {
	return fmt.Sprintf("connecting to %s '%s' failed: %v", e.backend, e.addr, e.err)
}

func (e *dialError) Unwrap() error { return e.err }
