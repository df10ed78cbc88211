package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// serverResponse is the http.ResponseWriter of the gateway's HTTP/1.1
// server. Its framing follows net/http's server: a Content-Length the
// handler set is sent; otherwise a body that ends within the first
// lengthProbe bytes gets a Content-Length, a longer or flushed one is
// chunked (HTTP/1.1) or ends with the connection (HTTP/1.0). Unlike
// net/http it does not guess a Content-Type for a body without one (a
// proxy passes on what the origin said, as nginx does).
type serverResponse struct {
	c      *h1ServerConn
	req    *http.Request
	hdr    http.Header
	status int

	wroteHeader bool // the handler's status is set
	headOut     bool // the head is in c.bw
	chunked     bool
	closeAfter  bool
	bodyless    bool  // HEAD, 204, 304
	length      int64 // the Content-Length the head declares; -1: none
	written     int64
	pending     []byte // body held until its length is known (c.pend)
	hijacked    bool
	// fields are the request head's fields as they came; raw, when set,
	// the origin's answer head the answer passes on (plain.go).
	fields *clientFields
	raw    *answerHead
	// ownField is one field the gateway sets on a raw answer (the request
	// id), replacing the origin's of that name.
	ownField [2]string
}

// lengthProbe is how much body is held back to learn its length, as
// net/http's server holds 2 KiB before it chooses chunking.
const lengthProbe = 2048

// maxUnreadBody is how much of a request body the handler left unread is
// read and dropped to keep the connection (net/http: 256 KiB).
const maxUnreadBody = 256 << 10

func (w *serverResponse) Header() http.Header {
	if w.hdr == nil {
		w.hdr = make(http.Header, 8)
	}
	return w.hdr
}

// adoptHeader makes h the answer's header map while nothing is set yet,
// so a proxied answer passes the origin's fields on without a map and a
// copy of its own; false: the caller copies them.
func (w *serverResponse) adoptHeader(h http.Header) bool {
	if w.wroteHeader || w.hijacked || len(w.hdr) > 0 {
		return false
	}
	w.hdr = h
	return true
}

func (w *serverResponse) WriteHeader(code int) {
	if w.hijacked || w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInterim(code)
		return
	}
	w.wroteHeader, w.status = true, code
	w.length = -1
	if w.raw != nil {
		w.length = w.raw.length
	} else if v := w.hdr["Content-Length"]; len(v) > 0 {
		if n, ok := parseLength(strings.TrimSpace(v[0])); ok {
			w.length = n
		} else {
			delete(w.hdr, "Content-Length")
		}
	}
	w.bodyless = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
}

// writeInterim sends a 1xx answer (103 Early Hints) at once.
func (w *serverResponse) writeInterim(code int) {
	c := w.c
	c.contMu.Lock()
	defer c.contMu.Unlock()
	bw := c.bw
	writeStatusLine(bw, code)
	// An interim answer has no body: its fields never frame one.
	cl, te := w.hdr["Content-Length"], w.hdr["Transfer-Encoding"]
	delete(w.hdr, "Content-Length")
	delete(w.hdr, "Transfer-Encoding")
	writeFields(bw, w.hdr)
	if cl != nil {
		w.hdr["Content-Length"] = cl
	}
	if te != nil {
		w.hdr["Transfer-Encoding"] = te
	}
	bw.WriteString("\r\n")
	_ = bw.Flush()
}

func (w *serverResponse) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.bodyless {
		if w.req.Method == http.MethodHead && w.status != http.StatusNoContent && w.status != http.StatusNotModified {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		// What fits goes out, so the answer stays framed as declared;
		// the rest is refused, as net/http refuses it.
		fit := p[:w.length-w.written]
		n, err := w.Write(fit)
		if err == nil {
			err = http.ErrContentLength
		}
		return n, err
	}
	w.written += int64(len(p))
	if !w.headOut {
		if w.length < 0 && len(w.pending)+len(p) <= lengthProbe {
			w.pending = append(w.pending, p...)
			return len(p), nil
		}
		w.writeHead(false)
	}
	return w.writeBody(p)
}

func (w *serverResponse) writeBody(p []byte) (int, error) {
	bw := w.c.bw
	if w.chunked {
		if len(p) == 0 {
			return 0, nil
		}
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
		n, err := bw.Write(p)
		bw.WriteString("\r\n")
		return n, err
	}
	return bw.Write(p)
}

// writeHead puts the head into c.bw, then the body held so far. final:
// the handler has returned, so a held body's length is known.
func (w *serverResponse) writeHead(final bool) {
	w.headOut = true
	c, r, h := w.c, w.req, w.hdr
	// No "100 Continue" once the final answer is on its way (a transport
	// reading the body on its own goroutine would otherwise send one).
	c.contMu.Lock()
	c.canContinue = false
	c.contMu.Unlock()
	w.closeAfter = w.closeAfter || c.mustClose || r.Close || hasToken(h["Connection"], "close")
	if !w.closeAfter && r.ContentLength != 0 {
		w.closeAfter = !w.settleRequestBody()
	}
	delete(h, "Transfer-Encoding")
	bw := c.bw
	writeStatusLine(bw, w.status)
	switch {
	case w.length >= 0 || w.bodyless:
	case final:
		w.length = int64(len(w.pending))
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.Itoa(len(w.pending)))
		bw.WriteString("\r\n")
	case r.ProtoMinor >= 1:
		w.chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	default:
		w.closeAfter = true // HTTP/1.0: the body ends with the connection
	}
	if w.closeAfter {
		delete(h, "Connection")
		if r.ProtoMinor >= 1 {
			bw.WriteString("Connection: close\r\n")
		}
	} else if r.ProtoMinor == 0 {
		delete(h, "Connection")
		bw.WriteString("Connection: keep-alive\r\n")
	}
	if _, ok := h["Date"]; !ok && (w.raw == nil || !w.raw.hasDate) {
		bw.WriteString("Date: ")
		bw.Write(httpDate())
		bw.WriteString("\r\n")
	}
	if w.raw != nil {
		w.writeRawFields(bw, h)
	}
	writeFields(bw, h)
	bw.WriteString("\r\n")
	if len(w.pending) > 0 {
		p := w.pending
		w.pending = w.pending[:0]
		_, _ = w.writeBody(p)
	}
}

// settleRequestBody runs when the answer starts while the request body is
// not read to its end (the handler answers without it): up to
// maxUnreadBody of it is read and dropped so the connection can serve the
// next request; false means it must close after this answer. A client
// still waiting for "100 Continue" is not asked for its body.
func (w *serverResponse) settleRequestBody() bool {
	b, ok := w.req.Body.(*serverBody)
	if !ok || w.c.fullDuplex {
		return true
	}
	if !b.settle(maxUnreadBody) {
		w.c.linger = true
		return false
	}
	return true
}

func writeStatusLine(bw *bufio.Writer, code int) {
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(code))
	bw.WriteByte(' ')
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	bw.WriteString(text)
	bw.WriteString("\r\n")
}

// writeFields writes h's fields; names that are not tokens are dropped
// and line breaks in values become spaces, as net/http does, so no value
// can start a field or an answer of its own.
func writeFields(bw *bufio.Writer, h http.Header) {
	for k, vs := range h {
		if !validToken(k) {
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			if strings.ContainsAny(v, "\r\n") {
				v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
			}
			bw.WriteString(strings.TrimSpace(v))
			bw.WriteString("\r\n")
		}
	}
}

// finish completes the answer after the handler returned; false: the
// connection cannot serve another request.
func (w *serverResponse) finish() bool {
	if w.hijacked {
		return false
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headOut {
		w.writeHead(true)
	}
	if w.chunked {
		w.c.bw.WriteString("0\r\n\r\n")
	}
	if !w.bodyless && w.length >= 0 && w.written < w.length {
		w.closeAfter = true // the client waits for bytes that will not come
	}
	if err := w.c.bw.Flush(); err != nil {
		return false
	}
	if b, ok := w.req.Body.(*serverBody); ok && !b.settle(maxUnreadBody) {
		w.c.linger = true
		return false
	}
	return !w.closeAfter
}

func (w *serverResponse) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headOut {
		w.writeHead(false)
	}
	return w.c.bw.Flush()
}

func (w *serverResponse) Flush() { _ = w.FlushError() }

func (w *serverResponse) SetReadDeadline(t time.Time) error  { return w.c.fc.SetReadDeadline(t) }
func (w *serverResponse) SetWriteDeadline(t time.Time) error { return w.c.fc.SetWriteDeadline(t) }

// EnableFullDuplex keeps the request body readable while the answer is
// written: its rest is not read and dropped when the answer starts (what
// the handler leaves unread is, when it returns).
func (w *serverResponse) EnableFullDuplex() error {
	w.c.fullDuplex = true
	return nil
}

// ReadFrom sends a Content-Length body from src through the connection's
// ReadFrom (splice.go) once the head is out.
func (w *serverResponse) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	// Only an origin's body bounded to what the head declares goes to the
	// connection as it is (splice.go); anything else through Write, which
	// refuses bytes past the Content-Length.
	ob, ok := src.(*originBody)
	if !ok || w.bodyless || w.length < 0 || w.hijacked || ob.N > w.length-w.written {
		bp := bodyBufPool.Get().(*[]byte)
		defer bodyBufPool.Put(bp)
		return io.CopyBuffer(writerOnly{w}, src, *bp)
	}
	if !w.headOut {
		w.writeHead(false)
	}
	if err := w.c.bw.Flush(); err != nil {
		return 0, err
	}
	n, err := w.c.fc.ReadFrom(ob)
	w.written += n
	return n, err
}

type writerOnly struct{ io.Writer }

// Hijack hands the connection over (websocket.go); bytes the client sent
// ahead are in the returned reader.
func (w *serverResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	c := w.c
	if w.headOut {
		if err := c.bw.Flush(); err != nil {
			return nil, nil, err
		}
	}
	if err := c.stopWatch(); err != nil {
		return nil, nil, err
	}
	w.hijacked, c.hijacked = true, true
	c.setState(http.StateHijacked)
	return c.fc, bufio.NewReadWriter(c.br, c.bw), nil
}

// httpDate is the Date field's value, formatted once a second.
func httpDate() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := cachedDate.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &dateText{sec: sec, text: now.UTC().AppendFormat(make([]byte, 0, 29), http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	sec  int64
	text []byte
}

var cachedDate atomic.Pointer[dateText]
