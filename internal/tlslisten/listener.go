// Package tlslisten terminates TLS on backline's HTTP listeners (server.tls,
// gateway.tls).
//
// The handshake runs here, before net/http sees the connection, for three
// reasons: the gateway must know whether ALPN chose h2 before it decides how
// to wrap a connection (its HTTP/1 framing checks read the decrypted bytes,
// see internal/gateway/framing.go, while an h2 connection must reach
// net/http as a *tls.Conn); failed handshakes are counted per listener,
// which net/http only logs; and the handshake gets its own deadline and
// can be interrupted when the listener closes. net/http then finds a
// finished handshake and goes on with it as usual (r.TLS, h2 via
// TLSNextProto).
//
// The settings (certificate, client CAs, minimum version, ALPN protocols)
// are read from the current *tls.Config for each ClientHello, so SetConfig
// swaps them for new connections while open ones keep theirs.
package tlslisten

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultHandshakeTimeout bounds a handshake from accept to its end, reads
// and writes alike: the same 10 s both listeners give a request head, so a
// client that stalls in the handshake holds its slot no longer than one
// that stalls in its headers.
const DefaultHandshakeTimeout = 10 * time.Second

// Options configure New.
type Options struct {
	// Name tells the listeners apart in logs and metrics ("api", "gateway").
	Name   string
	Logger *slog.Logger
	// HandshakeTimeout: 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// Listener accepts connections from an inner listener (the capped TCP
// listener) and returns them as *tls.Conn with the handshake done. Each
// handshake runs on its own goroutine, so a slow client never holds up
// the next one.
type Listener struct {
	inner   net.Listener
	name    string
	log     *slog.Logger
	timeout time.Duration
	base    *tls.Config
	cur     atomic.Pointer[tls.Config]

	ready   chan net.Conn
	acceptE chan error
	ctx     context.Context // ends when the listener closes
	stop    context.CancelFunc
	start   sync.Once
	wg      sync.WaitGroup

	failures failureCounts
}

// New returns a Listener serving cfg, which SetConfig replaces later. cfg
// must hold a certificate (config.ListenerTLS.LoadServerConfig).
func New(inner net.Listener, cfg *tls.Config, opts Options) *Listener {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	timeout := opts.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, stop := context.WithCancel(context.Background())
	l := &Listener{
		inner: inner, name: opts.Name, log: logger, timeout: timeout,
		ready: make(chan net.Conn), acceptE: make(chan error, 1), ctx: ctx, stop: stop,
	}
	l.cur.Store(cfg)
	// Only GetConfigForClient is read from base: every setting comes from
	// the current configuration. Session ticket keys come from base when
	// the returned configuration has none (crypto/tls), so a session
	// survives a certificate reload.
	l.base = &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return l.cur.Load(), nil },
		MinVersion:         tls.VersionTLS12,
	}
	return l
}

// SetConfig makes cfg the settings of every handshake from now on.
func (l *Listener) SetConfig(cfg *tls.Config) { l.cur.Store(cfg) }

// Config returns the current settings.
func (l *Listener) Config() *tls.Config { return l.cur.Load() }

// Accept returns the next connection whose handshake succeeded.
func (l *Listener) Accept() (net.Conn, error) {
	l.start.Do(func() {
		l.wg.Add(1)
		go l.acceptLoop()
	})
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.acceptE:
		l.acceptE <- err // every later Accept fails the same way
		return nil, err
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close closes the inner listener and ends the handshakes under way;
// connections already handed out stay open.
func (l *Listener) Close() error {
	l.stop()
	err := l.inner.Close()
	l.wg.Wait()
	return err
}

// Inner is the listener the connections come from (the capped one, whose
// ConnState hook net/http must call).
func (l *Listener) Inner() net.Listener { return l.inner }

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.inner.Accept()
		if err != nil {
			// The inner listener retries what can be retried (connlimit):
			// this error ends serving.
			if l.ctx.Err() != nil {
				err = net.ErrClosed
			}
			l.acceptE <- err
			return
		}
		l.wg.Add(1)
		go l.handshake(c)
	}
}

// handshake runs one handshake and hands the connection to Accept.
func (l *Listener) handshake(c net.Conn) {
	defer l.wg.Done()
	tc := tls.Server(c, l.base)
	_ = c.SetDeadline(time.Now().Add(l.timeout))
	err := tc.HandshakeContext(l.ctx)
	if err != nil {
		l.failed(c, err)
		_ = c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	select {
	case l.ready <- tc:
	case <-l.ctx.Done():
		_ = tc.Close()
	}
}

// Handshake failure reasons, the metric's reason label.
const (
	ReasonPlainHTTP = "plain_http" // an HTTP request sent to the TLS port
	ReasonTimeout   = "timeout"    // no complete handshake within the timeout
	ReasonEOF       = "eof"        // the client closed or reset during the handshake
	ReasonProtocol  = "protocol"   // not TLS, no common version or cipher, a refused client certificate...
)

// failed counts and logs one failed handshake. A client that sends plain
// HTTP is answered as net/http answers it on an HTTPS server. The log line
// is at debug: any client can cause one, and the counter is what to watch.
// Go's handshake errors name the problem (a protocol version, an unknown
// authority), never key material.
func (l *Listener) failed(c net.Conn, err error) {
	reason := ReasonProtocol
	var rhe tls.RecordHeaderError
	switch {
	case l.ctx.Err() != nil:
		return // the listener closed: not the client's failure
	case errors.As(err, &rhe) && rhe.Conn != nil && looksLikeHTTP(rhe.RecordHeader):
		reason = ReasonPlainHTTP
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(rhe.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
	case errors.Is(err, os.ErrDeadlineExceeded):
		reason = ReasonTimeout
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err):
		reason = ReasonEOF
	}
	l.failures.add(reason)
	l.log.Debug("TLS handshake failed", "listener", l.name, "remote", c.RemoteAddr().String(),
		"reason", reason, "error", err)
}

// looksLikeHTTP is net/http's test: the first five bytes of a request line.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
