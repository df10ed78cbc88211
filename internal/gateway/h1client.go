package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// h1Pool is backline's own HTTP/1.1 client for one destination. The request
// is written and the response read on the caller's goroutine: net/http's
// Transport runs a reader and a writer goroutine per connection and hands
// every request and response between them, which costs a proxy more than
// all of its own work (docs/benchmarks.md). Deadlines on the connection
// replace timers: the ttfb and total timeouts cost no goroutine either.
type h1Pool struct {
	set     *transportSet
	addr    string      // host:port to dial
	tlsConf *tls.Config // nil for http origins
	client  netip.Addr  // proxy_protocol's client (proxyproto.go)

	mu      sync.Mutex
	idle    []*h1Conn // the most recently used last
	sweeper *time.Timer
	closed  bool
	used    time.Time // for evicting the least recently used pool
}

// idleTimeout closes connections nobody has used for this long, before
// most origins would (nginx 75 s, Go's default 90 s).
const idleTimeout = 60 * time.Second

// aLongTimeAgo is a deadline in the past: it wakes a blocked read or write.
var aLongTimeAgo = time.Unix(1, 0)

// unansweredError marks a failed exchange in which the origin sent not
// one byte of an answer (it closed, reset or stayed silent past the ttfb):
// retry_on's reset and timeout may offer the request to another origin.
// The message is the cause's own.
type unansweredError struct{ err error }

func (e *unansweredError) Error() string { return e.err.Error() }
func (e *unansweredError) Unwrap() error { return e.err }

// unanswered reports whether err carries that mark.
func unanswered(err error) bool {
	var u *unansweredError
	return errors.As(err, &u)
}

// errIdleConnGone marks a reused connection the origin had closed before
// our request reached it: safe to send an idempotent request again.
var errIdleConnGone = errors.New("the origin closed the idle connection")

type h1Conn struct {
	net.Conn
	br        *bufio.Reader
	peeker    *idlePeeker // nil: cannot peek, taken as alive
	nread     int64       // bytes read so far, to tell a dead idle connection apart
	idleSince time.Time
	// headBudget is what a response head may still read; -1: no limit.
	headBudget int
	// woken: the client left and its deadlines were set in the past for
	// good (clientwatch.go).
	woken atomic.Bool
}

func (c *h1Conn) Read(p []byte) (int, error) {
	if c.headBudget >= 0 {
		if c.headBudget == 0 {
			return 0, errHeadTooLarge
		}
		p = p[:min(len(p), c.headBudget)]
	}
	n, err := c.Conn.Read(p)
	c.nread += int64(n)
	if c.headBudget >= 0 {
		c.headBudget -= n
	}
	return n, err
}

func newH1Pool(set *transportSet, key poolKey) *h1Pool {
	p := &h1Pool{set: set, addr: key.hostPort, client: key.client, used: time.Now()}
	if key.scheme == "https" {
		p.tlsConf = set.tlsBase.Clone()
		p.tlsConf.NextProtos = []string{"http/1.1"}
		p.tlsConf.ServerName = key.serverName
		if p.tlsConf.ServerName == "" {
			p.tlsConf.ServerName, _, _ = net.SplitHostPort(key.hostPort)
		}
	}
	return p
}

func (p *h1Pool) roundTrip(ctx context.Context, req *http.Request, limits requestLimits) (*http.Response, error) {
	return p.roundTripPlain(ctx, req, limits, nil)
}

// roundTripPlain is roundTrip for a plain request (plain.go) when plain is
// not nil: its head is written from the client's fields and plain, and a
// plain answer's head is kept raw (answerHeadOf).
func (p *h1Pool) roundTripPlain(ctx context.Context, req *http.Request, limits requestLimits, plain *plainUpstream) (*http.Response, error) {
	if p.set.noReuse && req.Header["Upgrade"] == nil {
		req.Close = true
	}
	// A plain request's fields were checked as the server read them.
	if err := checkRequest(req, plain == nil); err != nil {
		return nil, err
	}
	retry := isIdempotent(req) && (req.Body == nil || req.Body == http.NoBody)
	for {
		pc, reused, err := p.conn(ctx, limits)
		if err != nil {
			return nil, err
		}
		resp, err := p.exchange(ctx, pc, req, limits, reused, plain)
		if errors.Is(err, errIdleConnGone) && retry {
			retry = false // once: a fresh connection failing the same way is the origin's answer
			// The retry's ttfb clock starts when it is sent, not with the
			// dead connection's attempt (limits.sending).
			limits.sending = time.Time{}
			continue
		}
		return resp, err
	}
}

func isIdempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// conn takes the most recently used idle connection or dials a new one.
// Nothing watches a connection while it is idle, so each is peeked before
// reuse: an origin that closed it, or sent anything unasked (a 408 before
// closing, stray bytes after a response), leaves something to read, and
// those bytes must never be taken for the next request's answer.
func (p *h1Pool) conn(ctx context.Context, limits requestLimits) (*h1Conn, bool, error) {
	now := limits.sending
	if now.IsZero() {
		now = time.Now()
	}
	for {
		p.mu.Lock()
		p.used = now
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		pc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if now.Sub(pc.idleSince) < idleTimeout && pc.peeker.connAlive() {
			return pc, true, nil
		}
		pc.Close()
	}
	if !limits.deadline.IsZero() {
		// The TLS handshake is bounded by the total deadline only, as in
		// Couper; connect_timeout covers the TCP connect.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, limits.deadline)
		defer cancel()
	}
	c, err := p.set.dialTimeout(ctx, "tcp", p.addr, limits.connect)
	if err != nil {
		if !limits.deadline.IsZero() && !time.Now().Before(limits.deadline) {
			return nil, false, fmt.Errorf("%w: %w", errDeadline, err)
		}
		return nil, false, err
	}
	if p.set.proxyProtocol != 0 {
		if err := p.set.sendProxyHeader(ctx, c, p.client); err != nil {
			c.Close()
			return nil, false, err
		}
	}
	if p.tlsConf != nil {
		tc := tls.Client(c, p.tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, false, &handshakeError{addr: p.addr, err: err}
		}
		c = tc
	}
	pc := &h1Conn{Conn: c, headBudget: -1, peeker: newIdlePeeker(c)}
	pc.br = bufio.NewReaderSize(pc, 4<<10)
	return pc, false, nil
}

// exchange writes req and reads the response head on pc; the body is read
// by the caller and its Close returns pc to the pool.
func (p *h1Pool) exchange(ctx context.Context, pc *h1Conn, req *http.Request, limits requestLimits, reused bool, plain *plainUpstream) (*http.Response, error) {
	deadline, hasDeadline, ttfb := limits.deadline, !limits.deadline.IsZero(), limits.ttfb
	// The client leaving wakes whatever pc blocks in.
	watch := watchClient(ctx, pc, req.Header["Upgrade"] != nil)
	fail := func(err error) (*http.Response, error) {
		watch.stop()
		pc.Close()
		if hasDeadline && !time.Now().Before(deadline) {
			return nil, fmt.Errorf("%w: %v", errDeadline, err)
		}
		return nil, err
	}
	// A bodiless request's head leaves in one write: its ttfb clock starts
	// now, and one call sets both deadlines. A request with a body is
	// bounded by the total deadline while it uploads; its ttfb starts
	// once the body is written.
	bodiless := req.Body == nil || req.Body == http.NoBody
	var ttfbAt time.Time
	if bodiless {
		var readDeadline time.Time
		var now time.Time
		if reused {
			now = limits.sending // nothing since but taking an idle connection
		}
		ttfbAt, readDeadline = ttfbDeadline(ttfb, deadline, now)
		_ = pc.SetDeadline(readDeadline) // zero when there is none: no deadline
	} else {
		_ = pc.SetWriteDeadline(deadline)
	}
	var body *bodyErrReader
	if !bodiless {
		body = &bodyErrReader{ReadCloser: req.Body}
		req.Body = body
	}
	err := writeRequest(pc, req, plain)
	if err != nil {
		switch {
		case body != nil && body.err != nil:
			return fail(fmt.Errorf("reading the client's request body: %w", body.err))
		case reused && body == nil && ctx.Err() == nil:
			// Nothing of the request got through: the connection was dead.
			watch.stop()
			pc.Close()
			return nil, &unansweredError{fmt.Errorf("%w: %v", errIdleConnGone, err)}
		}
		// An origin may answer before it has read the whole upload (413,
		// 401) and close: its answer is worth more than the write error.
		before := pc.nread
		_ = pc.SetReadDeadline(time.Now().Add(earlyAnswerWait))
		if resp, fr, _, rerr := readFinalResponse(pc, req, time.Time{}, time.Time{}, plain != nil); rerr == nil {
			resp.Close = true
			return p.wrapBody(resp, fr, plain != nil, pc, req, watch, deadline), nil
		}
		if pc.nread == before && ctx.Err() == nil {
			err = &unansweredError{err}
		}
		return fail(err)
	}
	if !bodiless {
		var readDeadline time.Time
		ttfbAt, readDeadline = ttfbDeadline(ttfb, deadline, time.Time{})
		_ = pc.SetReadDeadline(readDeadline)
	}

	before := pc.nread
	// ttfb ends with the first response byte, an interim response too.
	resp, fr, ttfbOver, err := readFinalResponse(pc, req, ttfbAt, deadline, plain != nil)
	if err != nil {
		silent := pc.nread == before && ctx.Err() == nil
		switch {
		case !ttfbOver && !ttfbAt.IsZero() && !time.Now().Before(ttfbAt) && ctx.Err() == nil:
			watch.stop()
			pc.Close()
			if silent {
				return nil, &unansweredError{errTTFBTimeout}
			}
			return nil, errTTFBTimeout
		case reused && silent:
			watch.stop()
			pc.Close()
			return nil, &unansweredError{fmt.Errorf("%w: %v", errIdleConnGone, err)}
		case silent:
			err = &unansweredError{err}
		}
		return fail(err)
	}
	if !ttfbOver && !ttfbAt.IsZero() && !bodyBuffered(resp, pc) {
		_ = pc.SetReadDeadline(deadline)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body.Close()
		if req.Header["Upgrade"] == nil || req.Method != http.MethodGet {
			return fail(errUnaskedSwitch)
		}
		// The gateway asked for it (websocket.go): the connection is the
		// tunnel now and never goes back to the pool.
		resp.Body = &h1Upgraded{pc: pc, proto: resp.Header.Get("Upgrade"), watch: watch}
		return resp, nil
	}
	return p.wrapBody(resp, fr, plain != nil, pc, req, watch, deadline), nil
}

// wrapBody gives resp the body that returns pc to the pool; fr is the
// fast reader's allocation when it read the head (the body lives in it),
// and with raw the head stays raw (answerHeadOf).
func (p *h1Pool) wrapBody(resp *http.Response, fr *fastResponse, raw bool, pc *h1Conn, req *http.Request, watch upstreamWatch, deadline time.Time) *http.Response {
	b := &h1Body{}
	if fr != nil {
		b = &fr.h1
		if raw {
			b.raw = &fr.raw
		}
	}
	b.ReadCloser, b.pool, b.pc, b.watch = resp.Body, p, pc, watch
	b.eof = resp.Body == http.NoBody
	b.reusable = !resp.Close && !req.Close
	b.deadline = deadline
	resp.Body = b
	return resp
}

const (
	// maxResponseHead bounds an origin's status line and headers (nginx
	// refuses anything over its 4–8 KB buffer; net/http allows 10 MB).
	maxResponseHead = 1 << 20
	// maxInterim bounds the 1xx responses before the final one, as net/http.
	maxInterim = 5
	// earlyAnswerWait is how long a failed upload waits for the origin's
	// answer that may already be on its way.
	earlyAnswerWait = 100 * time.Millisecond
)

var errHeadTooLarge = errors.New("the origin's response headers exceed 1 MB")

// ttfbDeadline is when the first response byte is due (zero: no ttfb, or
// the total deadline comes first) and the read deadline until then.
// now is the time, when the caller has it; zero: take it.
func ttfbDeadline(ttfb time.Duration, deadline, now time.Time) (ttfbAt, readDeadline time.Time) {
	if ttfb <= 0 {
		return time.Time{}, deadline
	}
	if now.IsZero() {
		now = time.Now()
	}
	ttfbAt = now.Add(ttfb)
	if deadline.IsZero() || ttfbAt.Before(deadline) {
		return ttfbAt, ttfbAt
	}
	return time.Time{}, deadline
}

// bodyBuffered reports whether a final response's whole body came with
// its head: reading it needs no more reads, so the ttfb deadline can stay
// (each request sets its own; the idle peek ignores them).
func bodyBuffered(resp *http.Response, pc *h1Conn) bool {
	return resp.StatusCode >= 200 && resp.ContentLength >= 0 && int64(pc.br.Buffered()) >= resp.ContentLength
}

// readFinalResponse reads response heads until a final one (or 101),
// skipping 100 Continue and 103 Early Hints. With a ttfb running (ttfbAt
// not zero), an interim response ends it: the read deadline becomes the
// total deadline, and ttfbOver says so. fr is the fast reader's
// allocation when it read the final head; with keepRaw, a head it read
// has no header map (its fields are in fr.raw).
func readFinalResponse(pc *h1Conn, req *http.Request, ttfbAt, deadline time.Time, keepRaw bool) (resp *http.Response, fr *fastResponse, ttfbOver bool, err error) {
	for i := 0; ; i++ {
		pc.headBudget = maxResponseHead
		var fast bool
		resp, fr, fast = readResponseFast(pc.br, req, keepRaw)
		if !fast {
			resp, err = http.ReadResponse(pc.br, req)
		}
		pc.headBudget = -1
		if err != nil {
			return nil, nil, ttfbOver, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, fr, ttfbOver, nil
		}
		if i == 0 && !ttfbAt.IsZero() {
			_ = pc.SetReadDeadline(deadline)
			ttfbOver = true
		}
		if i == maxInterim {
			return nil, nil, ttfbOver, errors.New("the origin sent too many interim (1xx) responses")
		}
	}
}

// requestWriteBuf is the buffer a request goes upstream through: a head
// and a body up to about 64 KiB leave in one write, a larger body in 64 KiB
// writes (a 4 KiB buffer took 6 writes for a 16 KiB POST, nginx takes 2).
// The buffers are pooled, not kept per connection: an idle connection holds
// none, and only requests being written hold one.
const requestWriteBuf = 64 << 10

var requestWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, requestWriteBuf) }}

// writeRequest writes req and flushes it. The writer wraps pc, not its
// net.Conn: a *net.TCPConn's ReadFrom would take over the body once the
// buffer was flushed and copy it in 32 KiB pieces through a fresh buffer.
//
// Request.Write flushes the head on its own before a streamed body when it
// is handed a *bufio.Writer; headAndBody is not one, so the head and the
// first 64 KiB of body leave in one write, as nginx buffers a request body
// before it sends anything upstream.
func writeRequest(pc *h1Conn, req *http.Request, plain *plainUpstream) error {
	bw := requestWriters.Get().(*bufio.Writer)
	bw.Reset(pc)
	var err error
	done := false
	if plain != nil {
		if done, err = writeRequestPlain(bw, req, plain); !done {
			req.Header = plain.header() // Request.Write's turn
		}
	}
	if !done && !writeRequestFast(bw, req) {
		err = req.Write(headAndBody{bw})
	}
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil) // the pool keeps no connection alive
	requestWriters.Put(bw)
	return err
}

// headAndBody is a buffered writer Request.Write does not recognise as
// one (it keeps io.ByteWriter, so no second buffer is stacked on top).
type headAndBody struct{ *bufio.Writer }

// bodyErrReader remembers a failure to read the client's body, which
// Request.Write reports like a failure to write to the origin.
type bodyErrReader struct {
	io.ReadCloser
	err error
}

func (b *bodyErrReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// checkRequest refuses what Request.Write would pass on unchecked: header
// names that are not tokens, control bytes in values (when fields), and a
// request target with spaces or control bytes (net/http's Transport
// refuses the same).
func checkRequest(req *http.Request, fields bool) error {
	for name, values := range req.Header {
		if !fields {
			break
		}
		if !validToken(name) {
			return fmt.Errorf("invalid header name %q", name)
		}
		for _, v := range values {
			for i := 0; i < len(v); i++ {
				if isCTL(v[i]) {
					return fmt.Errorf("invalid value of header %q", name)
				}
			}
		}
	}
	for _, part := range [2]string{req.URL.RawPath, req.URL.RawQuery} {
		for i := 0; i < len(part); i++ {
			if c := part[i]; c <= ' ' || c == 0x7f {
				return errors.New("invalid byte in the request target")
			}
		}
	}
	return nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

// tokenByte marks RFC 9110's tchar: visible ASCII but the delimiters. A
// table: every header name of every request and answer is checked, and a
// search of the delimiter string per byte cost 4 % of a small request.
var tokenByte = func() (t [256]bool) {
	for c := '!'; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c)
	}
	return t
}()

// h1Body returns its connection to the pool once the body was read to the
// end; a body closed early takes the connection with it.
type h1Body struct {
	io.ReadCloser
	pool     *h1Pool
	pc       *h1Conn
	watch    upstreamWatch
	eof      bool
	reusable bool
	closed   bool
	// deadline is the exchange's total deadline (zero: none), to tell
	// which side a failed splice failed on.
	deadline time.Time
	// raw is the answer's head for a plain request (plain.go).
	raw *answerHead
}

func (b *h1Body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// discardBuffered reads the rest of a Content-Length body when it is at
// most max bytes and already in the connection's buffer, so Close can give
// the connection back to the pool without waiting on the origin (a retried
// 503's short body, say). Anything else is left for Close to drop.
func (b *h1Body) discardBuffered(max int64) {
	lb, ok := b.ReadCloser.(*lengthBody)
	if b.closed || b.eof || !ok || lb.left > max || lb.left > int64(b.pc.br.Buffered()) {
		return
	}
	_, _ = io.Copy(io.Discard, b)
}

func (b *h1Body) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	// stop reports false when the cancel func already ran: the connection
	// carries a deadline in the past and is no good any more.
	live := b.watch.stop()
	if b.eof && b.reusable && live && b.pc.br.Buffered() == 0 {
		b.pool.put(b.pc)
		return nil
	}
	return b.pc.Close()
}

// put keeps pc for the next request, and arms the sweeper that closes
// connections left idle.
func (p *h1Pool) put(pc *h1Conn) {
	// The deadlines stay: the peek before reuse ignores them, and every
	// request sets its own.
	pc.idleSince = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.set.idleCap() {
		p.mu.Unlock()
		pc.Close()
		return
	}
	p.idle = append(p.idle, pc)
	if p.sweeper == nil {
		p.sweeper = time.AfterFunc(idleTimeout, p.sweep)
	}
	p.mu.Unlock()
}

// sweep closes the connections idle for longer than idleTimeout (the
// oldest are at the front) and re-arms itself while any are left.
func (p *h1Pool) sweep() {
	now := time.Now()
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].idleSince) >= idleTimeout {
		n++
	}
	stale := append([]*h1Conn(nil), p.idle[:n]...)
	p.idle = compact(p.idle, n)
	p.sweeper = nil
	if len(p.idle) > 0 && !p.closed {
		p.sweeper = time.AfterFunc(idleTimeout-now.Sub(p.idle[0].idleSince), p.sweep)
	}
	p.mu.Unlock()
	for _, pc := range stale {
		pc.Close()
	}
}

// closeIdle closes every idle connection; close also refuses new ones.
func (p *h1Pool) closeIdle() { p.drain(false) }
func (p *h1Pool) close()     { p.drain(true) }

func (p *h1Pool) drain(closePool bool) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	if closePool {
		p.closed = true
	}
	p.mu.Unlock()
	for _, pc := range idle {
		pc.Close()
	}
}

// evictOne closes one idle connection to make room under max_connections.
func (p *h1Pool) evictOne() bool {
	p.mu.Lock()
	if len(p.idle) == 0 {
		p.mu.Unlock()
		return false
	}
	pc := p.idle[0]
	p.idle = compact(p.idle, 1)
	p.mu.Unlock()
	pc.Close()
	return true
}

// compact drops the first n connections, clearing the slots left behind so
// closed connections and their buffers can be collected.
func compact(idle []*h1Conn, n int) []*h1Conn {
	kept := copy(idle, idle[n:])
	clear(idle[kept:])
	return idle[:kept]
}

func (p *h1Pool) lastUsed() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}
