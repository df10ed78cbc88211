package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// net/http's server deletes Transfer-Encoding (and, next to it,
// Content-Length) before a handler runs, so a handler cannot tell an
// HTTP/1.0 request that announced chunked (net/http reads no body at all)
// or a request that sent both fields (RFC 9112 §6.1: the server MUST close
// the connection after answering). framingConn watches the bytes the
// server reads and notes, per request head, which framing fields it had.
//
// It follows message boundaries only where that takes no body parsing:
// heads, and bodies of a known Content-Length. After a head with
// Transfer-Encoding it stops; the gateway then closes the connection after
// that request, so a chunked body never has to be followed. Each note is
// matched against the request line net/http parsed; a mismatch means the
// scan lost step, and the connection is closed after the answer.

// headFacts is what one request head said about its framing.
type headFacts struct {
	line              string // request line, up to maxLineCapture bytes
	lineLen           int
	transferEncoding  bool
	contentLength     bool
	contentLengthBody int64 // -1: unknown
}

const (
	maxLineCapture = 512
	maxNameCapture = 32 // longer names are not framing fields
	maxValCapture  = 64 // longer Content-Length values: step lost
	maxQueuedHeads = 64 // pipelined heads noted ahead of the handler
)

type scanState int

const (
	scanHead scanState = iota
	scanBody
	scanLost
)

// framingConn notes the framing fields of each request head it reads.
type framingConn struct {
	net.Conn

	mu    sync.Mutex
	state scanState
	heads []headFacts
	cur   headFacts
	// Within a head: line number, bytes of the line, captured parts.
	lineNo      int
	lineBytes   int
	capture     []byte
	contLine    bool // the line is an obs-fold continuation
	lastCR      bool
	lastFieldCL bool // the last field line was Content-Length
	clValues    []string
	bodyLeft    int64
	skipCRLF    int // net/http drops up to 4 CR/LF after a POST
	lastMethod  string

	// watch wakes the origin exchange of the request being served when a
	// read of this connection fails (clientwatch.go).
	watch clientWatch
	// own is the gateway's HTTP/1.1 server's connection when that server
	// (h1server.go) serves this one: it parses heads itself, so the scan
	// and the background-read parking are off, and ownVerdict is the
	// framing verdict of the request being served.
	own        *h1ServerConn
	ownVerdict framingVerdict
	// tls is the handshake's outcome when the connection is TLS (the
	// framingConn wraps a *tls.Conn); net/http, which sees no *tls.Conn,
	// leaves r.TLS nil, and tlsRequests sets it from here.
	tls *tls.ConnectionState

	// Deadlines as set, and as given to the connection (deadline.go).
	readDL, appliedRead time.Time
	appliedWrite        time.Time
	reading, closed     bool
	// net/http's background read while it waits without a syscall
	// (bgread.go).
	bgWake   chan bgWake
	bgParked bool
	parked   *parkedSet // nil: parkedReads
	// A write held back to leave with the next one (gather.go).
	holdNext bool
	held     *[]byte
	bufs     net.Buffers
	bufArr   [2][]byte
}

func (c *framingConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.own == nil && c.isBackgroundRead(len(p)) {
		c.mu.Unlock()
		if err := c.parkBackgroundRead(); err != nil {
			c.watch.clientReadFailed(err)
			return 0, err
		}
		c.mu.Lock()
	}
	_ = c.applyReadDeadlineLocked()
	c.reading = true
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.reading = false
	if n > 0 && c.own == nil {
		c.scan(p[:n])
	}
	c.mu.Unlock()
	if err != nil {
		c.watch.clientReadFailed(err)
	}
	return n, err
}

// CloseWrite lets net/http half-close before it closes a connection with
// unread input, so the client reads the answer instead of a reset.
func (c *framingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// take returns the facts of the oldest head not yet handled; ok is false
// when the scan lost step or r is not the request it noted.
func (c *framingConn) take(r *http.Request) (headFacts, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// net/http answers "OPTIONS *" itself, without a handler.
	for len(c.heads) > 0 && strings.HasPrefix(c.heads[0].line, "OPTIONS * ") {
		c.heads = c.heads[1:]
	}
	if len(c.heads) == 0 {
		return headFacts{}, false
	}
	f := c.heads[0]
	c.heads = c.heads[1:]
	want := r.Method + " " + r.RequestURI + " " + r.Proto
	if f.lineLen != len(want) || !strings.HasPrefix(want, f.line) {
		c.state, c.heads = scanLost, nil
		return headFacts{}, false
	}
	return f, true
}

func (c *framingConn) scan(b []byte) {
	for len(b) > 0 {
		switch c.state {
		case scanLost:
			return
		case scanBody:
			n := int64(len(b))
			if n > c.bodyLeft {
				n = c.bodyLeft
			}
			c.bodyLeft -= n
			b = b[n:]
			if c.bodyLeft == 0 {
				c.startHead()
			}
		case scanHead:
			b = c.headBytes(b)
		}
	}
}

func (c *framingConn) startHead() {
	c.state = scanHead
	c.cur = headFacts{contentLengthBody: -1}
	c.lineNo, c.lineBytes, c.capture, c.lastFieldCL, c.clValues = 0, 0, c.capture[:0], false, nil
	c.skipCRLF = 0
	if c.lastMethod == http.MethodPost {
		c.skipCRLF = 4
	}
}

// headBytes takes b up to the end of the current line and returns the rest.
func (c *framingConn) headBytes(b []byte) []byte {
	for c.lineNo == 0 && c.lineBytes == 0 && c.skipCRLF > 0 && len(b) > 0 {
		if b[0] != '\r' && b[0] != '\n' {
			c.skipCRLF = 0
			break
		}
		c.skipCRLF--
		b = b[1:]
	}
	seg, rest, eol := bytes.Cut(b, []byte{'\n'})
	if len(seg) > 0 {
		if c.lineBytes == 0 && c.lineNo > 0 {
			c.contLine = seg[0] == ' ' || seg[0] == '\t'
		}
		c.lineBytes += len(seg)
		c.lastCR = seg[len(seg)-1] == '\r'
		limit := maxNameCapture + 1 + maxValCapture
		if c.lineNo == 0 {
			limit = maxLineCapture
		}
		if room := limit - len(c.capture); room > 0 {
			c.capture = append(c.capture, seg[:min(room, len(seg))]...)
		}
	}
	if !eol {
		return nil
	}
	// A line ends at LF; a CR right before it is dropped, as
	// bufio.Reader.ReadLine does for net/http.
	line, n := c.capture, c.lineBytes
	if c.lastCR {
		n--
		line = line[:min(len(line), n)]
	}
	// Reset first: the end of a head starts the next one.
	lineNo := c.lineNo
	c.lineNo++
	c.lineBytes, c.capture, c.lastCR = 0, c.capture[:0], false
	c.endLine(lineNo, line, n)
	return rest
}

var (
	nameTransferEncoding = []byte("transfer-encoding")
	nameContentLength    = []byte("content-length")
)

func (c *framingConn) endLine(lineNo int, line []byte, n int) {
	switch {
	case lineNo == 0:
		if n == 0 {
			c.lose() // net/http refuses an empty request line and closes
			return
		}
		c.cur.line, c.cur.lineLen = string(line), n
		method, _, _ := strings.Cut(c.cur.line, " ")
		c.lastMethod = method
	case n == 0:
		c.endHead()
	case c.contLine:
		// A folded line continues the previous field; for framing fields
		// that makes the value unusable for us.
		if c.lastFieldCL {
			c.lose()
		}
	default:
		name, value, _ := bytes.Cut(line, []byte{':'})
		c.lastFieldCL = false
		switch {
		case bytes.EqualFold(name, nameTransferEncoding):
			c.cur.transferEncoding = true
		case bytes.EqualFold(name, nameContentLength):
			c.cur.contentLength, c.lastFieldCL = true, true
			if n > len(line) {
				c.lose()
				return
			}
			c.clValues = append(c.clValues, string(bytes.Trim(value, " \t\r\n")))
		}
	}
}

func (c *framingConn) endHead() {
	f := c.cur
	if !f.transferEncoding {
		f.contentLengthBody = 0
		if len(c.clValues) > 0 {
			n, err := strconv.ParseUint(c.clValues[0], 10, 63)
			for _, v := range c.clValues[1:] {
				if v != c.clValues[0] {
					err = strconv.ErrSyntax
				}
			}
			if err != nil {
				c.lose() // net/http refuses it and closes
				return
			}
			f.contentLengthBody = int64(n)
		}
	}
	if len(c.heads) == maxQueuedHeads {
		c.lose()
		return
	}
	c.heads = append(c.heads, f)
	switch {
	case f.transferEncoding:
		c.state = scanLost // a chunked body is never followed; see above
	case f.contentLengthBody > 0:
		c.state, c.bodyLeft = scanBody, f.contentLengthBody
	default:
		c.startHead()
	}
}

// lose stops the scan; the requests it has noted stay valid.
func (c *framingConn) lose() { c.state = scanLost }

// framingListener hands out framingConns.
type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &framingConn{Conn: c}
	if tc, ok := c.(*tls.Conn); ok {
		// gateway.tls: the handshake is done (internal/tlslisten). An h2
		// connection goes to net/http as it is, which serves h2 only on a
		// *tls.Conn and frames h2 itself; an HTTP/1 one is scanned like a
		// plain one, on the decrypted bytes.
		state := tc.ConnectionState()
		if state.NegotiatedProtocol == "h2" {
			return tc, nil
		}
		fc.tls = &state
	}
	fc.startHead()
	return fc, nil
}

// NetConn returns the wrapped connection, so a capped listener underneath
// (connlimit) still sees its connections go idle. It has no side effect:
// connlimit's ConnState hook calls it twice a request.
func (c *framingConn) NetConn() net.Conn { return c.Conn }

// tunnelConn returns the wrapped connection for a caller that reads it
// directly (a websocket tunnel), with the read deadline last set given to
// it (deadline.go keeps it back until a read through c).
func (c *framingConn) tunnelConn() net.Conn {
	c.mu.Lock()
	_ = c.applyReadDeadlineLocked()
	c.mu.Unlock()
	return c.Conn
}

type framingConnKey struct{}

// framingContext puts the framingConn into each request's context.
func framingContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, framingConnKey{}, fc)
	}
	return ctx
}

// framingVerdict is what the gateway does about a request's framing.
type framingVerdict struct {
	refuse     string // non-empty: answer 400 client_request with this cause
	closeAfter bool   // close the client connection after the answer
}

// checkFraming applies RFC 9112 §6.1 to what the head said. Without a
// framingConn (the handler used outside ServeListener) nothing is known
// and nothing is done.
func checkFraming(r *http.Request) framingVerdict {
	fc, ok := r.Context().Value(framingConnKey{}).(*framingConn)
	if !ok {
		return framingVerdict{}
	}
	fc.watch.reqCtx = r.Context()
	if fc.own != nil {
		return fc.ownVerdict
	}
	f, known := fc.take(r)
	switch {
	case !known:
		return framingVerdict{closeAfter: true}
	case f.transferEncoding && !r.ProtoAtLeast(1, 1):
		return framingVerdict{refuse: "Transfer-Encoding in an HTTP/1.0 request", closeAfter: true}
	case f.transferEncoding && f.contentLength:
		return framingVerdict{refuse: "both Content-Length and Transfer-Encoding", closeAfter: true}
	case f.transferEncoding:
		return framingVerdict{closeAfter: true}
	}
	return framingVerdict{}
}

// dotSegment reports a "." or ".." segment in the decoded path, with "\"
// counted as a separator too (some origins treat it as one). Clients
// remove dot segments before sending (RFC 3986 §5.2.4); one that arrives
// is an attempt to climb out of an endpoint or a path_prefix.
func dotSegment(path string) bool {
	for path != "" {
		i := strings.IndexAny(path, `/\`)
		seg := path
		if i >= 0 {
			seg, path = path[:i], path[i+1:]
		} else {
			path = ""
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
