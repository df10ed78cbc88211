package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// serveStrict is the "go-strict" peer: go-floor plus what backline's
// gateway does to a plainly proxied request and answer, done on the bytes
// of the heads instead of net/http's types. It answers one question:
// would a byte-level data path reach the targets? It parses and
// checks both heads (token names, printable values, one Content-Length,
// no Transfer-Encoding), drops hop-by-hop fields (and those the client's
// Connection names), Authorization and Cookie as Couper does, appends the
// client to X-Forwarded-For, sets X-Forwarded-Proto/-Host and a request id
// (both ways), adds Date when the origin sent none, peeks idle origin
// connections before reuse, sets the deadlines backline sets, and counts
// each answer's status and duration. Still a bench peer, not a proxy:
// chunked bodies, HTTP/1.0 and errors end the connection.
func serveStrict(addr, origin string) {
	pool := &strictPool{origin: origin}
	servePeer(addr, ".strict", func(c net.Conn) { strictServe(c, pool) })
}

type strictOrigin struct {
	conn net.Conn
	raw  syscall.RawConn
	r    *bufio.Reader
	w    *bufio.Writer
}

// alive peeks the idle connection as backline does (one recvfrom).
func (o *strictOrigin) alive() bool {
	var ok bool
	var b [1]byte
	err := o.raw.Control(func(fd uintptr) {
		_, _, e := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = e == syscall.EAGAIN
	})
	return err == nil && ok
}

type strictPool struct {
	origin string
	mu     sync.Mutex
	idle   []*strictOrigin
}

func (p *strictPool) get() (*strictOrigin, error) {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		o := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if o.alive() {
			return o, nil
		}
		o.conn.Close()
	}
	c, err := net.Dial("tcp", p.origin)
	if err != nil {
		return nil, err
	}
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return nil, err
	}
	return &strictOrigin{conn: c, raw: raw, r: bufio.NewReaderSize(c, 4<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

func (p *strictPool) put(o *strictOrigin) {
	p.mu.Lock()
	p.idle = append(p.idle, o)
	p.mu.Unlock()
}

// strictStats stands in for the gateway's metrics: a count per status
// class and the total duration.
var strictStats struct {
	byClass [6]atomic.Int64
	nanos   atomic.Int64
}

var strictIDs atomic.Int64

// strictHead is one parsed head: the first line and the fields kept.
type strictHead struct {
	line     []byte
	size     int // the head's bytes, its blank line included
	fields   [][2][]byte
	length   int64
	close    bool
	host     []byte
	xff      []byte
	hasDate  bool
	dropped  [4][]byte // names the Connection field listed
	ndropped int
}

var errStrict = errors.New("go-strict: not a plain message")

// hopByHop reports the fields that never pass a proxy, plus those backline
// drops or sets itself.
func hopByHop(name []byte, request bool) bool {
	switch len(name) {
	case 2:
		return bytes.EqualFold(name, []byte("TE"))
	case 4:
		return request && bytes.EqualFold(name, []byte("Host"))
	case 6:
		return request && bytes.EqualFold(name, []byte("Cookie"))
	case 7:
		return bytes.EqualFold(name, []byte("Trailer")) || bytes.EqualFold(name, []byte("Upgrade"))
	case 10:
		return bytes.EqualFold(name, []byte("Connection")) || bytes.EqualFold(name, []byte("Keep-Alive"))
	case 13:
		return request && bytes.EqualFold(name, []byte("Authorization"))
	case 15:
		return request && (bytes.EqualFold(name, []byte("X-Forwarded-For")) || bytes.EqualFold(name, []byte("X-Forwarded-Host")))
	case 16:
		return bytes.EqualFold(name, []byte("Proxy-Connection")) || request && bytes.EqualFold(name, []byte("Couper-Request-Id"))
	case 17:
		return bytes.EqualFold(name, []byte("Transfer-Encoding")) || request && bytes.EqualFold(name, []byte("X-Forwarded-Proto"))
	case 19:
		return bytes.EqualFold(name, []byte("Proxy-Authorization"))
	case 18:
		return bytes.EqualFold(name, []byte("Proxy-Authenticate"))
	}
	return false
}

func strictToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return true
}

// readStrictHead reads and checks one head from r into h; its slices
// point into r's buffer, so h is used before r is read again.
func readStrictHead(r *bufio.Reader, h *strictHead, request bool) error {
	*h = strictHead{line: h.line[:0], fields: h.fields[:0], length: -1}
	if _, err := r.Peek(1); err != nil {
		return err
	}
	buf, _ := r.Peek(r.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return errStrict
	}
	head := buf[:end+2]
	h.size = end + 4
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	for _, c := range line {
		if c < ' ' || c >= 0x7f {
			return errStrict
		}
	}
	if request && !bytes.HasSuffix(line, []byte(" HTTP/1.1")) || !request && !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return errStrict
	}
	h.line = line
	for len(rest) > 0 {
		var f []byte
		f, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(f, []byte(":"))
		if !ok || !strictToken(name) {
			return errStrict
		}
		value = bytes.Trim(value, " \t")
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return errStrict
			}
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if h.length >= 0 {
				return errStrict
			}
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return errStrict
			}
			h.length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return errStrict
		case bytes.EqualFold(name, []byte("Connection")):
			for t := range bytes.SplitSeq(value, []byte(",")) {
				t = bytes.TrimSpace(t)
				switch {
				case bytes.EqualFold(t, []byte("close")):
					h.close = true
				case bytes.EqualFold(t, []byte("keep-alive")), len(t) == 0:
				case h.ndropped < len(h.dropped):
					h.dropped[h.ndropped] = t
					h.ndropped++
				default:
					return errStrict
				}
			}
		case request && bytes.EqualFold(name, []byte("Host")):
			if h.host != nil {
				return errStrict
			}
			h.host = value
		case request && bytes.EqualFold(name, []byte("X-Forwarded-For")):
			h.xff = value
		case !request && bytes.EqualFold(name, []byte("Date")):
			h.hasDate = true
		}
		if !hopByHop(name, request) {
			h.fields = append(h.fields, [2][]byte{name, value})
		}
	}
	if request && h.host == nil {
		return errStrict
	}
	if h.length < 0 {
		if !request {
			return errStrict // close-delimited: not in the bench
		}
		h.length = 0
	}
	return nil
}

// writeStrictFields writes h's kept fields, less those its Connection named.
func writeStrictFields(w *bufio.Writer, h *strictHead) {
	for _, f := range h.fields {
		named := false
		for _, d := range h.dropped[:h.ndropped] {
			named = named || bytes.EqualFold(f[0], d)
		}
		if named {
			continue
		}
		w.Write(f[0])
		w.WriteString(": ")
		w.Write(f[1])
		w.WriteString("\r\n")
	}
}

func strictServe(c net.Conn, pool *strictPool) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 4<<10)
	w := bufio.NewWriterSize(c, 4<<10)
	clientIP, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	idPrefix := strconv.FormatInt(time.Now().UnixNano()&0xffffffffffff, 16) + "-"
	var req, resp strictHead
	var idle time.Time
	for {
		now := time.Now()
		if idle.Sub(now) < 59*time.Second {
			idle = now.Add(60 * time.Second)
			_ = c.SetReadDeadline(idle)
		}
		if err := readStrictHead(r, &req, true); err != nil {
			return
		}
		start := time.Now()
		o, err := pool.get()
		if err != nil {
			return
		}
		_ = o.conn.SetDeadline(start.Add(60 * time.Second))
		id := idPrefix + strconv.FormatInt(strictIDs.Add(1), 10)
		ow := o.w
		ow.Write(req.line)
		ow.WriteString("\r\nHost: ")
		ow.WriteString(pool.origin)
		ow.WriteString("\r\n")
		writeStrictFields(ow, &req)
		ow.WriteString("Couper-Request-Id: ")
		ow.WriteString(id)
		ow.WriteString("\r\nX-Forwarded-For: ")
		if len(req.xff) > 0 {
			ow.Write(req.xff)
			ow.WriteString(", ")
		}
		ow.WriteString(clientIP)
		ow.WriteString("\r\nX-Forwarded-Host: ")
		ow.Write(req.host)
		ow.WriteString("\r\nX-Forwarded-Proto: http\r\n\r\n")
		closeAfter := req.close
		bodyLen := req.length
		if _, err := r.Discard(req.size); err != nil {
			o.conn.Close()
			return
		}
		if _, err := io.CopyN(ow, r, bodyLen); err != nil {
			o.conn.Close()
			return
		}
		if err := ow.Flush(); err != nil {
			o.conn.Close()
			return
		}
		if err := readStrictHead(o.r, &resp, false); err != nil {
			o.conn.Close()
			return
		}
		w.Write(resp.line)
		w.WriteString("\r\n")
		if !resp.hasDate {
			w.WriteString("Date: ")
			w.Write(time.Now().UTC().AppendFormat(make([]byte, 0, 29), "Mon, 02 Jan 2006 15:04:05 GMT"))
			w.WriteString("\r\n")
		}
		writeStrictFields(w, &resp)
		w.WriteString("Couper-Request-Id: ")
		w.WriteString(id)
		if closeAfter {
			w.WriteString("\r\nConnection: close")
		}
		w.WriteString("\r\n\r\n")
		status := 0
		if len(resp.line) >= 12 {
			status = int(resp.line[9] - '0')
		}
		reusable := !resp.close
		length := resp.length
		if _, err := o.r.Discard(resp.size); err != nil {
			o.conn.Close()
			return
		}
		if _, err := io.CopyN(w, o.r, length); err != nil {
			o.conn.Close()
			return
		}
		if reusable && o.r.Buffered() == 0 {
			pool.put(o)
		} else {
			o.conn.Close()
		}
		if err := w.Flush(); err != nil || closeAfter {
			return
		}
		if status < len(strictStats.byClass) {
			strictStats.byClass[status].Add(1)
		}
		strictStats.nanos.Add(int64(time.Since(start)))
	}
}
