package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/backline/backline/internal/config"
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

// transportSet is a backend's pools, created on first use per destination
// and sharing the backend's connection counter and limit.
type transportSet struct {
	name     string
	tlsBase  *tls.Config
	http2    bool
	noReuse  bool
	maxConns int
	dial     DialFunc
	conns    *connCounter

	mu    sync.Mutex
	pools map[transportKey]*http.Transport
}

// connectTimeoutKey carries the effective connect_timeout to the dialer: the
// pool is shared by refinements, which may set their own.
type connectTimeoutKey struct{}

func newTransportSet(name string, b *config.Backend, dial DialFunc) (*transportSet, error) {
	base := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: b.DisableCertificateValidation}
	if t := b.TLS; t != nil {
		if t.ServerCACertificateFile != "" {
			pem, err := os.ReadFile(t.ServerCACertificateFile)
			if err != nil {
				return nil, err
			}
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s holds no PEM certificate", t.ServerCACertificateFile)
			}
			base.RootCAs = pool
		}
		if t.ClientCertificateFile != "" {
			cert, err := tls.LoadX509KeyPair(t.ClientCertificateFile, t.ClientPrivateKeyFile)
			if err != nil {
				return nil, err
			}
			base.Certificates = []tls.Certificate{cert}
		}
	}
	if dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		dial = d.DialContext
	}
	return &transportSet{
		name: name, tlsBase: base, http2: b.HTTP2, noReuse: b.DisableConnectionReuse,
		maxConns: b.MaxConnections, dial: dial, conns: &connCounter{},
		pools: map[transportKey]*http.Transport{},
	}, nil
}

// get returns the pool for key, creating it on first use.
func (s *transportSet) get(key transportKey) (*http.Transport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.pools[key]; ok {
		return t, nil
	}
	t, err := s.build(key)
	if err != nil {
		return nil, err
	}
	s.pools[key] = t
	return t, nil
}

func (s *transportSet) build(key transportKey) (*http.Transport, error) {
	tlsConf := s.tlsBase.Clone()
	tlsConf.ServerName = key.serverName
	idle := defaultIdlePerHost
	if s.maxConns > 0 {
		idle = s.maxConns
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           s.dialContext,
		TLSClientConfig:       tlsConf,
		MaxIdleConns:          0, // no global cap; the per-host one applies
		MaxIdleConnsPerHost:   idle,
		MaxConnsPerHost:       s.maxConns,
		IdleConnTimeout:       90 * time.Second,
		DisableKeepAlives:     s.noReuse,
		DisableCompression:    true, // pass Accept-Encoding and bodies through as they are
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     s.http2,
	}
	if !s.http2 {
		// An empty map turns off HTTP/2 over TLS, as Couper does without http2.
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	if key.proxy != "" {
		u, err := url.Parse(key.proxy)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		t.Proxy = http.ProxyURL(u)
	}
	return t, nil
}

func (s *transportSet) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d, ok := ctx.Value(connectTimeoutKey{}).(time.Duration); ok && d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	c, err := s.dial(ctx, network, addr)
	if err != nil {
		return nil, &dialError{backend: s.name, addr: addr, err: err}
	}
	return s.conns.wrap(c), nil
}

// closeIdle drops every idle connection (shutdown).
func (s *transportSet) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.pools {
		t.CloseIdleConnections()
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
