package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"time"
)

// stdTransport is net/http's Transport for what backline's own HTTP/1.1
// client does not do: forward proxies (CONNECT for https), HTTP/2 over TLS
// and h2c. The ttfb timeout is a timer started when the request is written.
type stdTransport struct {
	t    *http.Transport
	mu   sync.Mutex
	used time.Time
	// conns counts this pool's open connections, for evictOne.
	conns connCounter
	// live, inFlight and closed let an evicted pool close its connections
	// once no request uses it (closeWhenDone). live holds every open
	// connection; inFlight counts requests from roundTrip to body close.
	live     map[net.Conn]struct{}
	inFlight int
	closed   bool
}

func (s *transportSet) buildStd(key poolKey, proxy *url.URL) *stdTransport {
	tlsConf := s.tlsBase.Clone()
	tlsConf.ServerName = key.serverName
	st := &stdTransport{used: time.Now(), live: map[net.Conn]struct{}{}}
	t := &http.Transport{
		Proxy:                 http.ProxyURL(proxy),
		DialContext:           st.countDials(s.dialContext),
		TLSClientConfig:       tlsConf,
		MaxIdleConns:          0, // no global cap; the per-host one applies
		MaxIdleConnsPerHost:   s.idleCap(),
		MaxConnsPerHost:       s.maxConns,
		IdleConnTimeout:       idleTimeout,
		DisableKeepAlives:     s.noReuse,
		DisableCompression:    true, // pass Accept-Encoding and bodies through as they are
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     s.http2,
	}
	if proxy == nil {
		t.Proxy = nil
	}
	if s.proxyProtocol != 0 {
		client := key.client
		t.DialContext = st.countDials(func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := s.dialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if err := s.sendProxyHeader(ctx, c, client); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		})
	}
	switch {
	case s.h2c && key.scheme == "http" && proxy == nil:
		t.Protocols = new(http.Protocols)
		t.Protocols.SetUnencryptedHTTP2(true)
	case !s.http2:
		// An empty map turns off HTTP/2 over TLS, as Couper does without http2.
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	st.t = t
	return st
}

// countDials counts the connections dial opens in s.conns and keeps them
// in s.live.
func (s *stdTransport) countDials(dial func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		lc := &liveConn{Conn: s.conns.wrap(c), pool: s}
		s.mu.Lock()
		s.live[lc] = struct{}{}
		s.mu.Unlock()
		return lc, nil
	}
}

// liveConn leaves its pool's live set when closed.
type liveConn struct {
	net.Conn
	pool *stdTransport
}

func (c *liveConn) Close() error {
	c.pool.mu.Lock()
	delete(c.pool.live, c)
	c.pool.mu.Unlock()
	return c.Conn.Close()
}

// NetConn is the wrapped connection (a websocket tunnel half-closes it).
func (c *liveConn) NetConn() net.Conn { return c.Conn }

// begin counts a request in flight; done ends it, and closes an evicted
// pool's connections when it was the last.
func (s *stdTransport) begin() {
	s.mu.Lock()
	s.inFlight++
	s.used = time.Now()
	s.mu.Unlock()
}

func (s *stdTransport) done() {
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	s.closeWhenDone()
}

// closeWhenDone closes every connection of an evicted pool once no request
// is in flight on it. net/http's CloseIdleConnections spares a connection
// busy at the time, and with HTTP/2 one that becomes idle later stays in a
// Transport nothing reaches, counted toward max_connections until the
// idle timeout. With no request in flight every connection is idle (or
// finishing a stream's cleanup), so closing it outright is safe.
func (s *stdTransport) closeWhenDone() {
	s.mu.Lock()
	if !s.closed || s.inFlight > 0 {
		s.mu.Unlock()
		return
	}
	conns := make([]net.Conn, 0, len(s.live))
	for c := range s.live {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	s.t.CloseIdleConnections()
}

func (s *stdTransport) roundTrip(ctx context.Context, req *http.Request, limits requestLimits) (*http.Response, error) {
	s.begin()
	var once sync.Once
	finish := func() { once.Do(s.done) }
	ctx = context.WithValue(ctx, connectTimeoutKey{}, limits.connect)
	cancelTotal := context.CancelFunc(func() {})
	if !limits.deadline.IsZero() {
		ctx, cancelTotal = context.WithDeadline(ctx, limits.deadline)
	}
	total := ctx
	ttfb := limits.ttfb
	ctx, cancelTTFB := context.WithCancelCause(ctx)
	cancel := func(err error) { cancelTTFB(err); cancelTotal(); finish() }
	guard := &ttfbGuard{limit: ttfb, cancel: cancelTTFB}
	if ttfb > 0 {
		ctx = httptrace.WithClientTrace(ctx, guard.trace())
	}
	resp, err := s.t.RoundTrip(req.WithContext(ctx))
	guard.stop()
	if err != nil {
		cause, deadlinePassed := context.Cause(ctx), total.Err() == context.DeadlineExceeded
		cancel(nil)
		switch {
		case cause == errTTFBTimeout:
			return nil, errTTFBTimeout
		case deadlinePassed:
			return nil, fmt.Errorf("%w: %w", errDeadline, err)
		}
		return nil, err
	}
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = &stdUpgraded{ReadWriteCloser: rwc, proto: resp.Header.Get("Upgrade"), cancel: func() { cancel(nil) }}
		return resp, nil
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

func (s *stdTransport) closeIdle() { s.t.CloseIdleConnections() }

// close is eviction: idle connections go now, busy ones when the last
// request in flight is done (closeWhenDone).
func (s *stdTransport) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.t.CloseIdleConnections()
	s.closeWhenDone()
}

// evictOne makes room under max_connections: net/http's pool cannot close
// just one idle connection, so it closes all of them (never one in use)
// and reports whether any was. MaxConnsPerHost alone caps one pool, and
// with proxy_protocol each client address has its own.
func (s *stdTransport) evictOne() bool {
	before := s.conns.open.Load()
	if before == 0 {
		return false
	}
	s.t.CloseIdleConnections()
	return s.conns.open.Load() < before
}
func (s *stdTransport) lastUsed() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// cancelOnClose ends the request's context once the body is done with.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// ttfbGuard cancels the request when the response headers do not arrive
// within limit after the request was written.
type ttfbGuard struct {
	limit  time.Duration
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer
	done  bool
}

func (t *ttfbGuard) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) {
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.done {
				return
			}
			if t.timer != nil {
				t.timer.Stop() // a retried request starts the clock again
			}
			t.timer = time.AfterFunc(t.limit, t.fire)
		},
		GotFirstResponseByte: t.stop,
	}
}

func (t *ttfbGuard) fire() {
	t.mu.Lock()
	fire := !t.done
	t.done = true
	t.mu.Unlock()
	if fire {
		t.cancel(errTTFBTimeout)
	}
}

func (t *ttfbGuard) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = true
	if t.timer != nil {
		t.timer.Stop()
	}
}
