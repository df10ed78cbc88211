package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// h1ServerConn is one client connection of the h1Server: its loop reads
// a head, runs the handler, finishes the answer, and waits for the next.
type h1ServerConn struct {
	srv      *h1Server
	fc       *framingConn
	br       *bufio.Reader
	bw       *bufio.Writer
	heads    headReader
	base     context.Context // carries fc (framingConnKey) for the layers
	remote   string
	accepted time.Time
	state    atomic.Int64 // http.ConnState

	// Per request, on the serve goroutine.
	req    http.Request       // filled by the head reader, copied by WithContext
	cancel context.CancelFunc // under watchMu: the watch and shutdown call it
	// contMu orders a "100 Continue" (sent from whatever goroutine reads
	// the body) against the answer's head; canContinue is under it.
	contMu      sync.Mutex
	canContinue bool
	fullDuplex  bool
	expect100   bool // "100 Continue" is owed at the first body read
	mustClose   bool // the head's framing asks for it
	hijacked    bool
	lastPost    bool
	// readFailed: a read of the client connection failed (not the
	// gateway's own deadline): the client is gone, not just its framing.
	readFailed bool
	// linger: close with a half-close and a short wait, so a client still
	// sending a body it was not asked for reads the answer before a reset.
	linger bool
	pend   []byte

	// The client-leaving watch (see startWatch).
	watchMu      sync.Mutex
	watchAllowed bool // a request is being served: its body's end may start a watch
	watchOn      bool
	watchRunning bool
	watchDone    chan struct{}
	hasByte      bool // the watch read the next request's first byte
	oneByte      [1]byte
	// arrived is when the request's first byte was read.
	arrived time.Time
}

// serverBufSize is the size of each connection's read and write buffers
// (net/http's: a head and a small answer in one syscall each).
const serverBufSize = 4 << 10

func newServerConn(s *h1Server, nc net.Conn) *h1ServerConn {
	c := &h1ServerConn{srv: s, remote: nc.RemoteAddr().String(), accepted: time.Now()}
	c.fc = &framingConn{Conn: nc, own: c}
	c.br = bufio.NewReaderSize(serverConnReader{c}, serverBufSize)
	c.bw = bufio.NewWriterSize(c.fc, serverBufSize)
	c.heads = headReader{br: c.br, limit: maxClientHead + 4096}
	c.base = context.WithValue(context.Background(), framingConnKey{}, c.fc)
	return c
}

// serverConnReader gives the bufio.Reader the byte the watch read first.
type serverConnReader struct{ c *h1ServerConn }

func (r serverConnReader) Read(p []byte) (int, error) {
	c := r.c
	if c.hasByte && len(p) > 0 {
		c.hasByte = false
		p[0] = c.oneByte[0]
		return 1, nil
	}
	n, err := c.fc.Read(p)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.readFailed = true
	}
	return n, err
}

func (c *h1ServerConn) setState(st http.ConnState) {
	c.state.Store(int64(st))
	if c.srv.connState != nil {
		c.srv.connState(c.fc, st)
	}
}

func (c *h1ServerConn) serve() {
	defer c.srv.forget(c)
	defer func() {
		if p := recover(); p != nil {
			c.srv.logPanic(c.remote, p)
		}
		if !c.hijacked {
			if c.bw.Flush() == nil && c.linger {
				c.lingerClose()
			}
			c.fc.Close()
			c.setState(http.StateClosed)
		}
	}()
	var idleUntil time.Time
	for first := true; ; first = false {
		now := time.Now()
		if first {
			_ = c.fc.SetReadDeadline(now.Add(clientHeaderTimeout))
		} else {
			// The same idle deadline serves the requests of a second:
			// the connection then already has it, and a keep-alive
			// request costs no timer change (deadline.go).
			if idleUntil.Sub(now) < clientIdleTimeout-time.Second {
				idleUntil = now.Add(clientIdleTimeout)
			}
			_ = c.fc.SetReadDeadline(idleUntil)
		}
		if c.lastPost {
			c.skipEmptyLines()
		}
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		c.setState(http.StateActive)
		// The request starts with its first byte (as nginx's
		// $request_time): the handler reads it from arrived.
		c.arrived = time.Now()
		if !first {
			_ = c.fc.SetReadDeadline(c.arrived.Add(clientHeaderTimeout))
		}
		sh, err := c.heads.read(c.remote, &c.req)
		if err != nil {
			var he *headError
			switch {
			case errors.As(err, &he):
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				// Part of a head, then the client's end (net/http: 400).
				he = badHead("unexpected EOF")
			default:
				return // timeouts and failed reads end it silently, as net/http
			}
			c.answerHeadError(he)
			return
		}
		if sh.req.Method == http.MethodOptions && sh.req.RequestURI == "*" {
			if sh.verdict.refuse != "" {
				c.answerHeadError(badHead(sh.verdict.refuse))
				return
			}
			// "OPTIONS *" asks about the server, not a resource: net/http
			// answers it itself, and so does this server.
			c.bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n")
			if sh.wantsClose {
				c.bw.WriteString("Connection: close\r\n")
			}
			c.bw.WriteString("\r\n")
			if c.bw.Flush() != nil || sh.wantsClose || sh.verdict.closeAfter || sh.req.ContentLength != 0 || sh.chunked {
				return
			}
			c.setState(http.StateIdle)
			continue
		}
		_ = c.fc.SetReadDeadline(time.Time{})
		if !c.serveRequest(sh) || c.srv.shutting.Load() {
			return
		}
		c.setState(http.StateIdle)
	}
}

// skipEmptyLines drops up to 4 CR or LF bytes after a POST's body (RFC
// 9112 §2.2: old clients send a line end after it; net/http allows it).
func (c *h1ServerConn) skipEmptyLines() {
	b, _ := c.br.Peek(4)
	n := 0
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	_, _ = c.br.Discard(n)
}

// serveRequest runs one request; false: the connection is done.
func (c *h1ServerConn) serveRequest(sh *serverHead) (keep bool) {
	ctx, cancel := context.WithCancel(c.base)
	defer cancel()
	// The request the handler gets lives in the head's allocation, not one
	// of its own (WithContext's copy stays on the stack).
	sh.ctxReq = *sh.req.WithContext(ctx)
	r := &sh.ctxReq
	c.req = http.Request{} // an idle connection keeps nothing of its last request
	c.setCancel(cancel)
	defer c.setCancel(nil)
	c.expect100, c.mustClose, c.fullDuplex = sh.expect100, sh.verdict.closeAfter || sh.wantsClose, false
	c.canContinue = sh.expect100
	c.fc.ownVerdict = sh.verdict
	if sh.verdict.refuse == "" {
		r.Body = newServerBody(c, sh, r)
	}
	w := &sh.resp
	*w = serverResponse{c: c, req: r, length: -1, pending: c.pend[:0], fields: &sh.fields} // hdr: made or adopted when asked for
	c.watchMu.Lock()
	c.watchAllowed = true
	c.watchMu.Unlock()
	if r.Body == http.NoBody {
		c.startWatch()
	}
	if !c.runHandler(w, r) {
		return false
	}
	if c.hijacked {
		return false
	}
	if err := c.stopWatch(); err != nil {
		return false
	}
	keep = w.finish()
	c.pend = w.pending[:0]
	c.lastPost = r.Method == http.MethodPost
	return keep
}

// runHandler calls the handler; false when it panicked (the connection
// is closed after what was already written goes out).
func (c *h1ServerConn) runHandler(w *serverResponse, r *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			c.srv.logPanic(c.remote, p)
			_ = c.stopWatch()
			if w.headOut {
				_ = c.bw.Flush()
			}
			ok = false
		}
	}()
	c.srv.h.ServeHTTP(w, r)
	return true
}

// clientGone ends the request's context: a read of the client failed
// (or the server's drain time is over).
func (c *h1ServerConn) clientGone() {
	c.watchMu.Lock()
	cancel := c.cancel
	c.watchMu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (c *h1ServerConn) setCancel(f context.CancelFunc) {
	c.watchMu.Lock()
	c.cancel = f
	c.watchMu.Unlock()
}

// answerHeadError answers a head the server cannot serve, as net/http
// does, and lets the client read it before the connection closes.
func (c *h1ServerConn) answerHeadError(he *headError) {
	text := http.StatusText(he.status)
	body := strconv.Itoa(he.status) + " " + text
	if he.status != http.StatusRequestHeaderFieldsTooLarge && he.text != "" {
		body += ": " + he.text
	}
	bw := c.bw
	writeStatusLine(bw, he.status)
	bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")
	bw.WriteString(body)
	c.linger = true
}

// lingerClose half-closes and drops the client's input for a moment:
// closing with unread bytes would reset the connection before the client
// read the answer (net/http waits 500 ms the same way).
func (c *h1ServerConn) lingerClose() {
	_ = c.fc.CloseWrite()
	until := time.Now().Add(500 * time.Millisecond)
	_ = c.fc.SetReadDeadline(until)
	const most = 256 << 10
	if n, err := io.Copy(io.Discard, io.LimitReader(c.fc, most)); err == nil && n == most {
		// Still sending (a large upload): stop reading and wait, so the
		// client's writes stall while it reads the answer; a close now
		// would reset the connection under it.
		time.Sleep(time.Until(until))
	}
}

// sendContinue answers "Expect: 100-continue" at the first body read.
func (c *h1ServerConn) sendContinue() error {
	c.contMu.Lock()
	defer c.contMu.Unlock()
	if !c.canContinue {
		return nil // the answer has started: no interim answer after it
	}
	c.canContinue = false
	c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	return c.bw.Flush()
}

// bodyEnded: the request body was read to its end; from now on a read of
// the connection can only find the client leaving (or pipelining).
func (c *h1ServerConn) bodyEnded() { c.startWatch() }

// A client that leaves while its request waits on the origin must wake
// that exchange (clientwatch.go) and end the request's context. Reading
// the connection in the background finds it, at the price of a syscall
// that finds nothing on every fast request; so a request is only noted
// in the parked set (bgread.go), and a real one-byte read starts when it
// has run for one to two ticks. A byte it reads (the next pipelined
// request) is handed to the next head read.
func (c *h1ServerConn) startWatch() {
	c.watchMu.Lock()
	if !c.watchAllowed {
		// The request is over: a body read to its end after it (drained
		// by finish, by a transport, after a hijack) must not leave a
		// reader on the connection beside the serve loop.
		c.watchMu.Unlock()
		return
	}
	c.watchOn = true
	c.watchMu.Unlock()
	parkedReads.add(c.fc)
}

// serverWatchReads counts background reads started (a test waits for one).
var serverWatchReads atomic.Int64

// promoteWatch starts the background read (the parked set's goroutine
// calls it through framingConn.promoteBackgroundRead).
func (c *h1ServerConn) promoteWatch() {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if !c.watchOn || c.watchRunning {
		return
	}
	c.watchRunning = true
	serverWatchReads.Add(1)
	c.watchDone = make(chan struct{})
	go c.watchRead(c.watchDone)
}

func (c *h1ServerConn) watchRead(done chan struct{}) {
	defer close(done)
	n, err := c.fc.Read(c.oneByte[:])
	if n == 1 {
		c.hasByte = true
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.clientGone()
	}
}

// stopWatch ends the watch, waiting for a background read to return; an
// error means the client is gone.
func (c *h1ServerConn) stopWatch() error {
	parkedReads.remove(c.fc)
	c.watchMu.Lock()
	c.watchAllowed = false
	c.watchOn = false
	running, done := c.watchRunning, c.watchDone
	c.watchRunning = false
	c.watchMu.Unlock()
	if !running {
		return nil
	}
	// Straight to the socket: the read under way must end now.
	_ = c.fc.forceReadDeadline(aLongTimeAgo)
	<-done
	_ = c.fc.SetReadDeadline(time.Time{})
	if c.fc.watch.gone.Load() {
		return net.ErrClosed
	}
	if c.hasByte {
		// Into the buffer, so a hijacker reading past it gets it too.
		_, _ = c.br.Peek(c.br.Buffered() + 1)
	}
	return nil
}
