package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/backline/backline/internal/config"
)

// wsStage is a proxy block's websockets setting, compiled: which Upgrade
// protocols may pass, the header modifiers of the handshake, and the
// timeout that replaces the backend's for upgraded requests.
type wsStage struct {
	protocols  []string // lower case
	mods       modifiers
	timeout    time.Duration
	hasTimeout bool
}

func (c *compiler) wsStage(path string, w *config.Websockets) *wsStage {
	if !w.Enabled {
		return nil
	}
	m := w.Modifiers.AsModifiers()
	return &wsStage{protocols: w.Protocols, mods: c.modifiers(path, &m), timeout: w.Timeout, hasTimeout: w.HasTimeout}
}

// upgradeRequest is an upgrade the gateway forwards.
type upgradeRequest struct {
	protocol string // as the client wrote it
	stage    *wsStage
}

// prepareUpgrade puts the client's Upgrade back on the outgoing request
// (it is hop-by-hop and was stripped) when the endpoint allows the
// protocol and the request can be an upgrade: GET, HTTP/1.1, no body. Any
// other request goes on as a plain one, without Upgrade, as in Couper.
func (ws *wsStage) prepareUpgrade(r, out *http.Request, rd *requestData) *upgradeRequest {
	if ws == nil || r.Method != http.MethodGet || r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.ContentLength != 0 {
		return nil
	}
	ups := r.Header["Upgrade"]
	if len(ups) != 1 || !connectionHasToken(r.Header["Connection"], "upgrade") {
		return nil
	}
	proto := strings.TrimSpace(ups[0])
	allowed := false
	for _, p := range ws.protocols {
		allowed = allowed || strings.EqualFold(proto, p)
	}
	if !allowed {
		return nil
	}
	out.Header["Connection"] = []string{"Upgrade"}
	out.Header["Upgrade"] = []string{proto}
	ws.mods.request.apply(out.Header, rd)
	return &upgradeRequest{protocol: proto, stage: ws}
}

func connectionHasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// upgradedStream is an origin connection after its 101 answer.
type upgradedStream interface {
	io.ReadWriteCloser
	// protocol is the origin's Upgrade header.
	protocol() string
	closeWrite() error
	// setReadDeadline bounds the wait for the origin; false if it cannot.
	setReadDeadline(t time.Time) bool
}

// halfCloseLinger is how long the other direction may go on after one side
// ended cleanly (HAProxy's client-fin/server-fin): a peer that ignores the
// half-close does not hold the tunnel until the total timeout.
var halfCloseLinger = 30 * time.Second

// h1Upgraded is an h1Pool connection handed over after 101: bytes the
// origin sent along with its head are in the buffered reader. The total
// deadline the exchange set on the connection stays: it bounds the tunnel.
type h1Upgraded struct {
	pc    *h1Conn
	proto string
	watch upstreamWatch
	once  sync.Once
}

func (u *h1Upgraded) Read(p []byte) (int, error)  { return u.pc.br.Read(p) }
func (u *h1Upgraded) Write(p []byte) (int, error) { return u.pc.Conn.Write(p) }
func (u *h1Upgraded) protocol() string            { return u.proto }
func (u *h1Upgraded) closeWrite() error           { return closeWrite(u.pc.Conn) }
func (u *h1Upgraded) setReadDeadline(t time.Time) bool {
	return u.pc.Conn.SetReadDeadline(t) == nil
}
func (u *h1Upgraded) Close() error {
	u.once.Do(func() {
		u.watch.stop()
		u.pc.Close()
	})
	return nil
}

// stdUpgraded is net/http's upgraded body (through a forward proxy).
type stdUpgraded struct {
	io.ReadWriteCloser
	proto  string
	cancel func()
}

func (u *stdUpgraded) protocol() string  { return u.proto }
func (u *stdUpgraded) closeWrite() error { return closeWrite(u.ReadWriteCloser) }
func (u *stdUpgraded) setReadDeadline(t time.Time) bool {
	if c, ok := u.ReadWriteCloser.(interface{ SetReadDeadline(time.Time) error }); ok {
		return c.SetReadDeadline(t) == nil
	}
	return false
}
func (u *stdUpgraded) Close() error {
	err := u.ReadWriteCloser.Close()
	u.cancel()
	return err
}

// closeWrite half-closes c when it can (TCP, TLS, or a wrapper of one).
func closeWrite(c any) error {
	for range 8 { // wrappers nest a few deep; never loop on a cycle
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			return cw.CloseWrite()
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = u.NetConn()
	}
	return nil
}

var errUnaskedSwitch = errors.New("the origin switched protocols, which the gateway does not forward here")

// serveUpgrade answers a 101 from the origin: the head goes to the client
// and bytes flow both ways until both sides are done, one side fails, or
// the deadline (websockets timeout, else the backend's) passes.
func (g *Gateway) serveUpgrade(w http.ResponseWriter, r *http.Request, rd *requestData, ep *endpoint, up *upstream, ex *exchange, start time.Time) {
	resp, u := ex.resp, up.upgrade
	rt := ep.backend.rt
	stream, ok := resp.Body.(upgradedStream)
	if u == nil || !ok || !strings.EqualFold(strings.TrimSpace(stream.protocol()), u.protocol) {
		g.fail(w, r, rd.id, rt, ep.path, newError(kindBackend, errUnaskedSwitch))
		return
	}
	u.stage.mods.response.apply(resp.Header, rd)
	ex.addStickyCookie(resp.Header)
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		g.fail(w, r, rd.id, rt, ep.path, newError(kindBackend, err))
		return
	}
	defer conn.Close()
	deadline := time.Time{}
	if t := u.timeout(ep.backend); t > 0 {
		deadline = start.Add(t)
	}
	_ = conn.SetDeadline(deadline)

	h := resp.Header
	h["Connection"] = []string{"Upgrade"}
	h["Upgrade"] = []string{u.protocol}
	if id := g.reqIDs.client; id != "" {
		h[id] = []string{rd.id}
	}
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = h.Write(brw)
	_, _ = brw.WriteString("\r\n")
	if err := brw.Flush(); err != nil {
		return
	}
	rt.metrics.count(http.StatusSwitchingProtocols)
	noteUpgrade(w, 0)

	// A client may have sent frames before the 101 (RFC 6455 says it must
	// not): they are in the server's buffer and go to the origin first.
	early, _ := brw.Reader.Peek(brw.Reader.Buffered())
	raw := conn
	if fc, ok := conn.(*framingConn); ok {
		raw = fc.tunnelConn() // frames are not HTTP heads: skip the framing scan
	}
	toOrigin, toClient, reason := tunnel(raw, early, stream, deadline)
	noteUpgrade(w, toClient)
	g.logger.Debug("gateway upgrade closed", "request_id", rd.id, "endpoint", ep.path, "backend", rt.name,
		"protocol", u.protocol, "bytes_to_origin", toOrigin, "bytes_to_client", toClient, "reason", reason)
}

// timeout is the upgraded connection's total: the websockets timeout,
// else the backend's (Couper: websockets.timeout replaces timeout).
func (u *upgradeRequest) timeout(bv *backendView) time.Duration {
	if u.stage.hasTimeout {
		return u.stage.timeout
	}
	return bv.timeout
}

// tunnel copies client->origin (early bytes first) and origin->client.
// A side that ends cleanly half-closes the other direction, which goes on
// until it ends too; an error on either side ends both.
func tunnel(client net.Conn, early []byte, origin upgradedStream, deadline time.Time) (toOrigin, toClient int64, reason string) {
	linger := func() time.Time {
		t := time.Now().Add(halfCloseLinger)
		if !deadline.IsZero() && deadline.Before(t) {
			return deadline
		}
		return t
	}
	type result struct {
		n   int64
		err error
	}
	up := make(chan result, 1)
	go func() {
		var n int64
		var err error
		if len(early) > 0 {
			var m int
			m, err = origin.Write(early)
			n += int64(m)
		}
		if err == nil {
			var m int64
			m, err = copyBuffered(origin, client)
			n += m
		}
		if err == nil {
			_ = origin.closeWrite()
			if !origin.setReadDeadline(linger()) {
				_ = client.SetWriteDeadline(linger()) // bounds the other direction all the same
			}
		} else {
			_ = client.Close() // wakes the other direction
			_ = origin.Close()
		}
		up <- result{n, err}
	}()
	toClient, errDown := copyBuffered(client, origin)
	if errDown == nil {
		_ = closeWrite(client)
		_ = client.SetReadDeadline(linger())
	} else {
		_ = client.Close()
		_ = origin.Close()
	}
	res := <-up
	toOrigin = res.n
	switch err := errors.Join(errDown, res.err); {
	case err == nil:
		reason = "closed"
	case errors.Is(err, os.ErrDeadlineExceeded):
		reason = "websockets: deadline exceeded"
	default:
		reason = err.Error()
	}
	return toOrigin, toClient, reason
}

// copyBuffered is io.Copy with a pooled buffer; EOF is a clean end.
func copyBuffered(dst io.Writer, src io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *bp)
}

// noteUpgrade tells the access log about the 101 and what flowed to the
// client.
func noteUpgrade(w http.ResponseWriter, toClient int64) {
	if a, ok := w.(*accessWriter); ok {
		a.status = http.StatusSwitchingProtocols
		a.bytes = toClient
	}
}

// clientUpgradeGuard: a client asking for an Upgrade that does not happen
// gets its connection closed after the answer. Bytes it sent early would
// otherwise be read as its next request, and a front proxy that took the
// upgrade for granted would let a client smuggle requests past it.
func clientUpgradeGuard(w http.ResponseWriter, r *http.Request) {
	if _, ok := r.Header["Upgrade"]; ok {
		w.Header().Set("Connection", "close")
	}
}
