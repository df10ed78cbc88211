package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/backline/backline/internal/redact"
)

// bufPool holds copy buffers for response bodies.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// servedRequest is the gateway's own state of one client request, in one
// allocation instead of four.
type servedRequest struct {
	access accessWriter
	data   requestData
	up     upstream
	call   call
}

// ServeHTTP runs one request through the pipeline of spec §0.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := requestStart(w)
	sr := new(servedRequest)
	reqID := g.requestID(r)
	w, access := g.wrapForAccess(w, r, reqID, start, &sr.access)
	defer access.finish()
	framing := checkFraming(r)
	if framing.closeAfter {
		w.Header().Set("Connection", "close")
	}
	switch {
	case framing.refuse != "":
		g.fail(w, r, reqID, nil, "", newError(kindClientRequest, errors.New(framing.refuse)))
		return
	case dotSegment(r.URL.Path):
		g.fail(w, r, reqID, nil, "", newError(kindClientRequest, errDotSegment))
		return
	}
	clientUpgradeGuard(w, r)
	rt, params, rest, ok := g.router.lookup(r.URL.Path, r.Method)
	if rt == nil {
		g.fail(w, r, reqID, nil, "", newError(kindRouteNotFound, errNoRoute))
		return
	}
	if !ok {
		w.Header().Set("Allow", rt.allowHeader())
		g.fail(w, r, reqID, nil, rt.endpoint.path, newError(kindMethodNotAllowd, errWrongMethod))
		return
	}
	ep := rt.endpoint
	bv := ep.backend
	bm := bv.rt.metrics
	defer func() { bm.duration.Observe(time.Since(start).Seconds()) }()

	rd := &sr.data
	*rd = requestData{req: r, params: params, id: reqID}
	noteRoute(w, ep, rd)
	up := &sr.up
	var plain *clientFields
	if ep.plain && !g.plainLaneOff {
		plain = plainRequest(w, r)
	}
	warning, err := ep.outgoingInto(up, r, rd, rest, rt.wildcard, plain)
	if err != nil {
		gerr := newError(kindConfiguration, err)
		if r.Context().Err() != nil {
			gerr = newError(kindClientGone, errClientCancel) // left while its form body was read
		}
		g.fail(w, r, reqID, bv.rt, ep.path, gerr)
		return
	}
	if warning != "" {
		g.logger.Warn("gateway form modifiers skipped", "request_id", reqID, "endpoint", ep.path, "error_type", "evaluation", "reason", warning)
	}
	if r.Body != nil && r.Body != http.NoBody {
		up.setClientReadDeadline = func(t time.Time) error { return http.NewResponseController(w).SetReadDeadline(t) }
	}
	ex, gerr := g.roundTripIn(r.Context(), &sr.call, bv, up)
	if gerr != nil {
		g.fail(w, r, reqID, bv.rt, ep.path, gerr)
		return
	}
	defer ex.done()
	resp := ex.resp
	if raw := answerHeadOf(resp); raw != nil && !takeAnswerHead(w, raw) {
		resp.Header = raw.header(nil) // a writer without raw heads: the map path
	}
	// nil: the plain lane, where the origin's fields go out as they came,
	// less hop-by-hop ones (plain.go), and the writer adds no Content-Type.
	if resp.Header != nil {
		if ep.proxy != nil {
			ep.proxy.mods.response.apply(resp.Header, rd)
		}
		ep.mods.response.apply(resp.Header, rd)
		if resp.StatusCode == http.StatusSwitchingProtocols {
			g.serveUpgrade(w, r, rd, ep, up, ex, start)
			return
		}
		ex.addStickyCookie(resp.Header)
		h := passHeader(w, resp.Header)
		if _, ok := h["Content-Type"]; !ok {
			// An origin that sent no type meant none: net/http would guess
			// one from the body (a nil value stops it), nginx does not.
			h["Content-Type"] = nil
		}
	}
	// w.Header() is the origin's fields' map (passHeader), or the
	// gateway's own beside a raw head.
	if framing.closeAfter {
		w.Header().Set("Connection", "close") // no response modifier talks us out of it
	}
	noBody := resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified || r.Method == http.MethodHead
	if resp.StatusCode == http.StatusNoContent {
		w.Header().Del("Content-Length")
	}
	w.WriteHeader(resp.StatusCode)
	bm.count(resp.StatusCode)
	if len(bv.logFields) > 0 || g.logger.Enabled(r.Context(), slog.LevelDebug) {
		g.logUpstream(reqID, ep.path, bv, rd, resp.StatusCode, start)
	}
	if noBody {
		return
	}
	if err := copyBody(w, r, resp); err != nil && r.Context().Err() == nil {
		// Headers are out; all that is left is to cut the response off so
		// the client sees it incomplete (Couper does the same on timeout).
		kind := kindBackend
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
			kind = kindTimeout
		}
		g.logger.Warn("gateway response body cut off", "request_id", reqID, "endpoint", ep.path,
			"backend", bv.rt.name, "error_type", kind.Type, "error", errText(err))
		bv.rt.metrics.errors.WithLabelValues("body_cut").Inc()
		ex.done()
		panic(http.ErrAbortHandler)
	}
}

// requestStart is when the request began: its first byte on the
// gateway's own server (which took the time then), else now.
func requestStart(w http.ResponseWriter) time.Time {
	if s, ok := w.(*serverResponse); ok {
		return s.c.arrived
	}
	return time.Now()
}

// headerAdopter is a ResponseWriter that can take a header map as its own
// (the gateway's HTTP/1.1 server, and the access log's wrapper of it).
type headerAdopter interface{ adoptHeader(http.Header) bool }

// passHeader gives the answer the origin's fields: the map itself where
// the writer takes it (the exchange's response is not used after this),
// else a copy into w.Header().
func passHeader(w http.ResponseWriter, from http.Header) http.Header {
	if a, ok := w.(headerAdopter); ok && a.adoptHeader(from) {
		return from
	}
	h := w.Header()
	for k, vs := range from {
		h[k] = vs
	}
	return h
}

// bodyBufPool holds the buffers response bodies are copied through: 64 KiB,
// so a 64 KiB body reaches the client in two writes (net/http's 4 KiB
// buffer takes the head and the start) instead of four, and a 1 MiB body
// in 64 KiB writes, as nginx with proxy_buffers 16 64k.
var bodyBufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// copyBody streams the body, flushing each chunk when the origin streams
// (no Content-Length) so slow event streams are not held back.
func copyBody(w http.ResponseWriter, r *http.Request, resp *http.Response) error {
	flush := resp.ContentLength < 0
	if b, ok := resp.Body.(*h1Body); ok && resp.ContentLength >= spliceMin {
		if rf := spliceTarget(w, r); rf != nil {
			if done, err := b.spliceBody(w, rf); done {
				return err
			}
		}
	}
	var corked *framingConn
	if !flush {
		if corked = corkFor(r, resp.ContentLength); corked != nil {
			defer corked.uncork()
		}
	}
	bp := bodyBufPool.Get().(*[]byte)
	defer bodyBufPool.Put(bp)
	buf := *bp
	rc := http.NewResponseController(w)
	for first := true; ; first = false {
		n, err := resp.Body.Read(buf)
		if first && !flush && err == nil && n < len(buf) {
			// The first read returns only the part of the body that came
			// with the response head; one more joins it with what follows
			// instead of sending it out in a small write of its own.
			var m int
			m, err = resp.Body.Read(buf[n:])
			n += m
		}
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil // the client left; nothing to report to it
			}
			if corked != nil && !corked.holdNext {
				// The first write went out or is held: never hold it (the
				// response head) while the origin is read again.
				_ = corked.uncork()
				corked = nil
			}
			if flush {
				_ = rc.Flush()
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// fail answers with a gateway error and logs the cause.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, reqID string, rt *backendRuntime, endpoint string, gerr *gatewayError) {
	backend := ""
	if rt != nil {
		backend = rt.name
		rt.metrics.errors.WithLabelValues(gerr.kind.Type).Inc()
		rt.metrics.count(gerr.kind.Status)
	}
	level := levelFor(gerr.kind)
	g.logger.Log(r.Context(), level, "gateway request failed",
		"request_id", reqID, "method", r.Method, "path", loggedPath(r.URL.Path), "endpoint", endpoint,
		"backend", backend, "error_type", gerr.kind.Type, "status", gerr.kind.Status, "error", errText(gerr.cause))
	if gerr.kind == kindClientGone {
		// Returning would let net/http send an empty 200 to a client that
		// only half-closed; aborting closes the connection instead.
		panic(http.ErrAbortHandler)
	}
	if r.Body != nil && r.Body != http.NoBody {
		// Before it answers, net/http reads what is left of an unread body
		// (up to 256 KiB) to keep the connection, with no deadline of its
		// own: a client that stops sending would hold it for good.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(unreadBodyWait))
	}
	writeError(w, gerr.kind, reqID)
}

// unreadBodyWait bounds reading the rest of a body the gateway answered
// without using (nginx's lingering_timeout is 5 s too). A variable for tests.
var unreadBodyWait = 5 * time.Second

// errText is an error as the gateway logs it: a header line net/http
// quotes from a malformed origin response keeps its name, not a
// credential's value (Set-Cookie from the origin, say).
func errText(err error) string {
	if err == nil {
		return ""
	}
	return redact.ErrorText(err.Error())
}
