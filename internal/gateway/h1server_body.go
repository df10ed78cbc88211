package gateway

import (
	"io"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// serverBody is a request body as the client frames it: Content-Length
// bytes, or chunks (RFC 9112 §7.1) with their trailer section read and
// dropped. It asks for the body with "100 Continue" at the first read
// when the client expects that, and tells its connection when the body
// has ended (the client-leaving watch starts then) or failed (the
// request's context is cancelled, as net/http does).
type serverBody struct {
	// mu: net/http's transports read a request body on a goroutine of
	// their own, while the handler's answer may settle the body.
	mu      sync.Mutex
	c       *h1ServerConn
	r       io.Reader // the framing: limited or chunked, over c's reader
	left    int64     // Content-Length bytes not read yet; -1: chunked
	done    bool      // read to its end
	err     error     // the failure all later reads return
	closed  bool      // the handler closed it: reads fail, the rest is drained or the connection closed
	chunked io.Reader
}

func (b *serverBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.read(p)
}

func (b *serverBody) read(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, http.ErrBodyReadAfterClose
	case b.err != nil:
		return 0, b.err
	case b.done:
		return 0, io.EOF
	}
	if b.c.expect100 {
		b.c.expect100 = false
		if err := b.c.sendContinue(); err != nil {
			b.fail(err)
			return 0, err
		}
	}
	var n int
	var err error
	if b.left >= 0 {
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err = b.c.br.Read(p)
		b.left -= int64(n)
		if b.left == 0 {
			err = io.EOF
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	} else {
		n, err = b.chunked.Read(p)
		if err == io.EOF {
			err = b.readTrailer()
			if err == nil {
				err = io.EOF
			}
		}
	}
	switch {
	case err == io.EOF:
		b.done = true
		b.c.bodyEnded()
	case err != nil:
		b.fail(err)
	}
	return n, err
}

// fail keeps err for later reads. Only a failed read of the connection
// means the client is gone (its context ends, as net/http's); a body
// that breaks its framing is the client's error, answered 400.
func (b *serverBody) fail(err error) {
	b.err = err
	b.c.linger = true
	if b.c.readFailed {
		b.c.clientGone()
	}
}

// readTrailer reads the trailer section after the last chunk, up to the
// empty line, within the head limit; its fields are dropped (the gateway
// does not forward request trailers).
func (b *serverBody) readTrailer() error {
	used := 0
	for {
		l, err := b.c.heads.readLine(&used)
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if len(l) == 0 {
			return nil
		}
		if _, _, err := checkFieldLine(l); err != nil {
			return err // as net/http: a trailer is held to a header's rules
		}
	}
}

func (b *serverBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// settle reads what is left of the body, up to max bytes, so the
// connection can take the next request; false: it cannot. It never waits
// for a read under way elsewhere (a transport streaming the body upstream
// on its own goroutine, blocked on a client that sends only once it has
// its answer): the connection is then closed after the answer instead.
func (b *serverBody) settle(max int64) bool {
	if !b.mu.TryLock() {
		return false
	}
	defer b.mu.Unlock()
	switch {
	case b.done:
		return true
	case b.err != nil, b.left > max:
		return false
	case b.c.expect100:
		// The client waits for a go-ahead it will not get; its body may
		// or may not follow. The connection cannot be reused.
		return false
	}
	b.closed = false
	// A client sending what is left slowly must not hold the connection
	// (nginx's lingering_timeout; g.fail sets the same).
	b.c.fc.readDeadlineOr(time.Now().Add(unreadBodyWait))
	n, err := io.CopyN(io.Discard, readerFunc(b.read), max+1)
	// Like net/http: what the handler reads after this is an error, never
	// an end that looks like a complete body.
	b.closed = true
	return err == io.EOF && n <= max
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func newServerBody(c *h1ServerConn, sh *serverHead, r *http.Request) io.ReadCloser {
	switch {
	case sh.chunked:
		return &serverBody{c: c, left: -1, chunked: httputil.NewChunkedReader(c.br)}
	case r.ContentLength > 0:
		return &serverBody{c: c, left: r.ContentLength}
	}
	return http.NoBody
}
