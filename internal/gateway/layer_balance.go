package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/backline/backline/internal/health"
)

// originsGateLayer is gateLayer for a backend with origins: some origin
// must be admitted (eligible; with use_when_unhealthy, not taken out by an
// operator), checked before the queues as the single-origin gate is.
type originsGateLayer struct {
	useWhenUnhealthy bool
	next             layer
}

func (l *originsGateLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	if !c.origins.gate(c.bv.rt.origins, c.g.snapshotNow(), l.useWhenUnhealthy) {
		return nil, newError(kindUnhealthy, errUnhealthy)
	}
	return l.next.roundTrip(c)
}

// balanceLayer replaces originLayer for a backend with origins: it picks
// an origin by policy and health, and when an attempt fails in a way the
// backend's retry_on names, tries another origin (at most retries more,
// never past the request's deadline). A failed connect (the default
// condition) sent nothing upstream, so any method may go again (nginx's
// proxy_next_upstream error does the same), provided its body is still
// unread and so can be offered whole. The opt-in conditions (a reset or a
// ttfb timeout before the origin sent a byte, a 502, 503 or 504) may have
// reached the origin, so they repeat idempotent methods only, and also
// only with the body unread. Every attempt reaches passive health once.
// It runs after the queues, so least_connections sees the requests really
// in flight.
type balanceLayer struct {
	set  *originSet
	next layer
}

func (l *balanceLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	set, out := l.set, c.up.req
	var guard *guardedBody
	var offered io.ReadCloser // the body as the next attempt reads it
	if out.Body != nil && out.Body != http.NoBody {
		guard = &guardedBody{ReadCloser: out.Body}
		guard.first.g = guard
		offered = &guard.first
	}
	idempotent := retryIdempotent(out.Method)
	// sendLayer appends the client to X-Forwarded-For; a retry starts from
	// the header as it was.
	forwardedFor := out.Header["X-Forwarded-For"]
	reporter := c.g.passiveReporter()
	var triedBuf [4]*upstreamOrigin
	tried := triedBuf[:0]
	var buf [8]candidate
	// The gate's candidates, unless the snapshot changed since.
	cands := c.origins.first(set, c.g.snapshotNow(), c.bv.useWhenUnhealthy, buf[:0])
	if len(cands) == 0 {
		return nil, newError(kindUnhealthy, errUnhealthy)
	}
	var key requestKey // a hash policy's key, the same for every attempt
	if set.hashKey != nil {
		if key = set.hashKey.key(c); !key.ok {
			c.g.metrics.originHashFallback(set.label)
		}
	}
	for attempt := 0; ; attempt++ {
		o := set.choose(cands, key)
		tried = append(tried, o)
		c.dest = c.g.destinationAtHostPort(c.bv, c.up, o.origin, o.hostPort)
		t, err := c.bv.rt.transports.get(c.dest.key, c.proxyClient())
		if err != nil {
			return nil, newError(kindConfiguration, err)
		}
		c.transport = t
		if attempt > 0 && !c.up.plainOn { // a plain request's header map is its client's, never written
			setHeaderValues(out.Header, "X-Forwarded-For", forwardedFor)
		}
		if guard != nil {
			out.Body = offered
		}
		o.inFlight.Add(1)
		o.countRequest(c.g.metrics, set.label)
		if c.up.data != nil {
			c.up.data.origin = o.name // the access log's origin field
		}
		began := time.Now()
		ex, gerr := l.next.roundTrip(c)
		if gerr == nil {
			if reporter != nil {
				reporter.ReportPassive(o.id, ex.resp.StatusCode >= 500)
			}
		} else {
			o.inFlight.Add(-1)
			if reporter != nil && countsAsOriginFailure(gerr) {
				if timedOut(gerr) {
					reporter.ReportPassiveTimeout(o.id, time.Since(began))
				} else {
					reporter.ReportPassive(o.id, true)
				}
			}
		}
		cause := set.retryOn.cause(c, ex, gerr)
		again := cause != 0 && attempt < set.retries && c.ctx.Err() == nil &&
			(cause == retryConnect || idempotent) &&
			(c.limits.deadline.IsZero() || time.Now().Before(c.limits.deadline)) &&
			(guard == nil || !guard.started())
		if again {
			// Only another origin: the one that failed keeps its answer.
			cands = set.candidates(c.g.snapshotNow(), set.clock(), tried, c.bv.useWhenUnhealthy, buf[:0])
			again = len(cands) > 0
		}
		if again && guard != nil {
			// Last: from here the failed attempt can no longer read the
			// body, or, if it began to meanwhile, the request stays put.
			offered, again = guard.next()
		}
		if !again {
			if gerr != nil {
				return nil, gerr
			}
			ex.onDone(o.doneFunc)
			ex.stickyCookie = key.setCookie // added last, by the handler
			return ex, nil
		}
		reason := retryReasons[cause]
		if gerr == nil {
			dropAnswer(ex)
			o.inFlight.Add(-1)
			c.g.logger.Debug("gateway retrying on another origin", "backend", set.label, "origin", o.name, "status", ex.resp.StatusCode)
		} else {
			c.g.logger.Debug("gateway retrying on another origin", "backend", set.label, "origin", o.name, "reason", reason, "error", errText(gerr.cause))
		}
		c.g.metrics.originRetry(set.label, reason)
	}
}

func setHeaderValues(h http.Header, key string, values []string) {
	if len(values) == 0 {
		delete(h, key)
		return
	}
	h[key] = values
}

// isConnectFailure: no connection to the origin came about (the dial, the
// PROXY header or the TLS handshake failed), so not one byte of the
// request went upstream.
func isConnectFailure(err error) bool {
	var de *dialError
	var pe *proxyHeaderError
	var he *handshakeError
	return errors.As(err, &de) || errors.As(err, &pe) || errors.As(err, &he)
}

// handshakeError is a failed TLS handshake with an origin (backline's
// HTTP/1.1 client): like a failed dial, the request was not sent.
type handshakeError struct {
	addr string
	err  error
}

func (e *handshakeError) Error() string { return "TLS handshake with " + e.addr + ": " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// countsAsOriginFailure: a failed connect, a reset or a timeout waiting
// for the origin count for passive health (Envoy maps them to 5xx); a
// broken client request or a client that left do not.
// timedOut tells a failure that was a timeout (the origin did not answer
// or accept in time) from one the origin caused (refused, reset, 5xx):
// only a timeout can be this process's own doing when it was stalled.
func timedOut(gerr *gatewayError) bool {
	if gerr.kind == kindTimeout {
		return true
	}
	var ne net.Error
	return errors.As(gerr.cause, &ne) && ne.Timeout()
}

func countsAsOriginFailure(gerr *gatewayError) bool {
	switch gerr.kind {
	case kindBackend, kindTimeout:
		return true
	}
	return false
}

// guardedBody lets a request body be offered to a second origin: each
// attempt reads it through its own attemptBody, and the body may go to
// the next attempt only while no Read of the current one has begun. A
// Read that has begun may still be blocked in the client's upload with
// nothing returned yet: net/http's Transport (HTTP/2, forward proxies)
// hands back an early answer (a 503, say) while its writer goroutine
// goes on reading the body, so "no byte read yet" is not enough, and a
// second reader would split the client's bytes between two origins.
// Once the next attempt has the body, a Read by an earlier one fails
// without touching it. Close does nothing, so the transport's Close of a
// failed attempt leaves the client's body open (net/http's server closes
// it when the handler returns).
type guardedBody struct {
	io.ReadCloser
	// state is the current attempt's number shifted left by one; bit 0:
	// a Read of it has begun.
	state atomic.Uint64
	first attemptBody // attempt 0, kept here to spare an allocation
}

var errBodyReoffered = errors.New("the request body went to another origin")

type attemptBody struct {
	g *guardedBody
	n uint64
}

func (a *attemptBody) Read(p []byte) (int, error) {
	for {
		s := a.g.state.Load()
		if s>>1 != a.n {
			return 0, errBodyReoffered
		}
		if s&1 != 0 || a.g.state.CompareAndSwap(s, s|1) {
			break
		}
	}
	return a.g.ReadCloser.Read(p)
}

func (a *attemptBody) Close() error { return nil }

// started reports whether a Read of the current attempt has begun.
func (g *guardedBody) started() bool { return g.state.Load()&1 != 0 }

// next gives the body to a new attempt when no Read of the current one
// has begun (ok false otherwise, and nothing changes).
func (g *guardedBody) next() (*attemptBody, bool) {
	s := g.state.Load()
	if s&1 != 0 || !g.state.CompareAndSwap(s, s+2) {
		return nil, false
	}
	return &attemptBody{g: g, n: s>>1 + 1}, true
}

// passiveReporter is where origin outcomes go: the health source when it
// takes passive reports (the engine), else nowhere.
func (g *Gateway) passiveReporter() health.PassiveReporter {
	box := g.health.Load()
	if box == nil || box.src == nil {
		return nil
	}
	r, _ := box.src.(health.PassiveReporter)
	return r
}

func (g *Gateway) snapshotNow() *health.Snapshot {
	box := g.health.Load()
	if box == nil || box.src == nil {
		return nil
	}
	return box.src.Snapshot()
}
