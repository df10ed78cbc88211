package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backline/backline/internal/config"
)

// backendRuntime is the state one label owns, shared by every endpoint and
// refinement that uses it: pools, connection limit, throttle and health.
type backendRuntime struct {
	name       string
	group      string // health group, "" without beta_health
	transports *transportSet
	slots      *slotQueue
	throttle   *throttle
	metrics    *backendMetrics
	origins    *originSet // several origins (origins.go); nil: one origin

	inFlight       atomic.Int64
	slotQueued     atomic.Int64
	throttleQueued atomic.Int64
}

func (rt *backendRuntime) publishQueue() {
	rt.metrics.queue.Set(float64(rt.slotQueued.Load() + rt.throttleQueued.Load()))
}

// backendView is a backend's effective attributes: the definition, or the
// definition with a refinement laid over it. Values are compiled templates.
type backendView struct {
	rt   *backendRuntime
	mods modifiers

	path, pathPrefix, origin, hostname, basicAuth template
	hasPath, hasPrefix, hasOrigin, hasHostname    bool
	proxy                                         string

	connectTimeout, ttfbTimeout, timeout time.Duration
	setStatus                            int
	useWhenUnhealthy                     bool
	logFields                            valueSet
	warned204                            atomic.Bool
}

func (c *compiler) backendView(rt *backendRuntime, b *config.Backend) *backendView {
	p := b.Path
	j := func(k string) string { return p + "." + k }
	v := &backendView{
		rt:               rt,
		mods:             c.modifiers(p, &b.Modifiers),
		path:             c.template(j("path"), b.BackendPath),
		pathPrefix:       c.template(j("path_prefix"), b.PathPrefix),
		origin:           c.template(j("origin"), b.Origin),
		hostname:         c.template(j("hostname"), b.Hostname),
		basicAuth:        c.template(j("basic_auth"), b.BasicAuth),
		hasPath:          b.BackendPath != "",
		hasPrefix:        b.PathPrefix != "",
		hasOrigin:        b.Origin != "",
		hasHostname:      b.Hostname != "",
		proxy:            b.Proxy,
		connectTimeout:   b.ConnectTimeout,
		ttfbTimeout:      b.TTFBTimeout,
		timeout:          b.Timeout,
		useWhenUnhealthy: b.UseWhenUnhealthy,
		logFields:        c.values(j("custom_log_fields"), b.CustomLogFields),
	}
	if b.Has("set_response_status") {
		v.setStatus = b.SetResponseStatus
	}
	return v
}

// upstream is the request handed to a backend with what the earlier stages
// learned: the /** match and an origin from an absolute proxy/request url.
type upstream struct {
	// setClientReadDeadline bounds reading the client's body by the total
	// deadline: neither the connection deadlines nor the context wake a
	// read of the client that stalls its upload.
	setClientReadDeadline func(time.Time) error
	req                   *http.Request
	data                  *requestData
	rest                  string
	wildcard              bool
	urlHost               *origin
	clientIP              string
}

// exchange is a finished round trip whose body is still to be read; done
// frees the slot and timers once the body has been copied.
type exchange struct {
	resp *http.Response
	done func()
}

// roundTrip runs the backend stage of spec §0 step 3.
func (g *Gateway) roundTrip(ctx context.Context, bv *backendView, up *upstream) (*exchange, *gatewayError) {
	rt := bv.rt
	out, rd := up.req, up.data
	if rt.origins != nil {
		if !g.originsAdmitted(bv) {
			return nil, newError(kindUnhealthy, errUnhealthy)
		}
	} else if rt.group != "" && !g.admitted(rt.group, bv.useWhenUnhealthy) {
		return nil, newError(kindUnhealthy, errUnhealthy)
	}
	if bv.hasPath {
		// The rules apply to the value; the /** match is the client's
		// path, already free of dot segments, and "?" or "#" in it are
		// data that the request line escapes.
		p := bv.path.eval(rd)
		if err := checkPath("path", p); err != nil {
			return nil, newError(kindConfiguration, blameRequest(err, bv.path.usesRequest()))
		}
		out.URL.Path, out.URL.RawPath = expandWildcard(p, up.rest, up.wildcard), ""
	}
	bv.mods.request.apply(out.Header, rd)
	bv.mods.query.applyQuery(out.URL, rd)
	if warning, err := bv.mods.form.applyForm(out, rd); err != nil {
		if ctx.Err() != nil {
			return nil, newError(kindClientGone, errClientCancel)
		}
		return nil, newError(kindBackend, err)
	} else if warning != "" {
		g.logger.Warn("gateway form modifiers skipped", "backend", rt.name, "error_type", "evaluation", "reason", warning)
	}

	var dest destination
	var transport upstreamTransport
	if rt.origins == nil { // else sendToOrigins picks one per attempt
		var err error
		if dest, err = g.destination(bv, up); err != nil {
			return nil, newError(kindConfiguration, blameRequest(err, bv.origin.usesRequest()))
		}
		if transport, err = rt.transports.get(dest.key); err != nil {
			return nil, newError(kindConfiguration, err)
		}
	}

	// The total deadline starts before the throttle and slot queues:
	// waiting counts against it, as in Couper.
	limits := requestLimits{connect: bv.connectTimeout, ttfb: bv.ttfbTimeout}
	if bv.timeout > 0 {
		limits.deadline = time.Now().Add(bv.timeout)
	}
	if rt.throttle != nil || rt.slots.limited() {
		// Only queues need a context that carries the deadline; the
		// transports enforce it on the connection.
		waitCtx, cancel := ctx, context.CancelFunc(func() {})
		if !limits.deadline.IsZero() {
			waitCtx, cancel = context.WithDeadline(ctx, limits.deadline)
		}
		err := rt.throttle.wait(waitCtx)
		if err == nil {
			err = rt.slots.acquire(waitCtx)
		} else if errors.Is(err, errThrottled) {
			cancel()
			return nil, newError(kindThrottle, err)
		}
		cancel()
		if err != nil {
			return nil, classify(ctx, limits.deadline, err)
		}
	}
	if !limits.deadline.IsZero() && up.setClientReadDeadline != nil && out.Body != nil && out.Body != http.NoBody {
		_ = up.setClientReadDeadline(limits.deadline)
	}
	rt.inFlight.Add(1)
	release := func() {
		rt.inFlight.Add(-1)
		rt.slots.release()
	}

	appendForwardedFor(out.Header, up.clientIP)
	if auth := bv.basicAuth.eval(rd); auth != "" {
		out.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
	}
	if bv.hasPrefix {
		// The path it goes in front of was checked already (or is the
		// client's, free of dot segments), so joining cannot climb out.
		prefix := bv.pathPrefix.eval(rd)
		if err := checkPath("path_prefix", prefix); err != nil {
			release()
			return nil, newError(kindConfiguration, blameRequest(err, bv.pathPrefix.usesRequest()))
		}
		out.URL.Path, out.URL.RawPath = joinPrefix(prefix, out.URL.Path), ""
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // keeps Go's default agent out
	}
	if rt.origins == nil {
		out.URL.Scheme, out.URL.Host = dest.origin.scheme, dest.origin.host
		out.Host = dest.hostHeader
	}

	// The client already had its 100 Continue from our server.
	delete(out.Header, "Expect")
	var body *clientBody
	if out.Body != nil && out.Body != http.NoBody {
		body = &clientBody{ReadCloser: out.Body}
		out.Body = body
	}
	var resp *http.Response
	var picked *upstreamOrigin
	var err error
	if rt.origins != nil {
		resp, picked, err = g.sendToOrigins(ctx, bv, up, out, limits)
	} else {
		resp, err = transport.roundTrip(ctx, out, limits)
	}
	if err != nil {
		var decided *gatewayError // sendToOrigins found no origin
		if errors.As(err, &decided) {
			release()
			return nil, decided
		}
		if body != nil && body.failed.Load() {
			// A broken upload (bad chunked framing, say) surfaces as a
			// failed write to the origin; it is the client's fault.
			err = blameRequest(err, true)
		}
		gerr := classify(ctx, limits.deadline, err)
		release()
		return nil, gerr
	}
	stripHopHeaders(resp.Header)
	bv.mods.response.apply(resp.Header, rd)
	if bv.setStatus != 0 {
		resp.StatusCode = bv.setStatus
		if bv.setStatus == http.StatusNoContent && !bv.warned204.Swap(true) {
			// Once per backend: the setting, not each response, is the news.
			g.logger.Warn("gateway set_response_status 204 drops the response body", "backend", rt.name)
		}
	}
	var once sync.Once
	return &exchange{resp: resp, done: func() {
		once.Do(func() {
			resp.Body.Close()
			if picked != nil {
				picked.inFlight.Add(-1)
			}
			release()
		})
	}}, nil
}

// destination is where a request goes and what it is called there.
type destination struct {
	origin     origin
	hostHeader string
	key        transportKey
}

func (g *Gateway) destination(bv *backendView, up *upstream) (destination, error) {
	var d destination
	switch {
	case bv.hasOrigin:
		o, err := parseOrigin(bv.origin.eval(up.data))
		if err != nil {
			return d, err
		}
		d.origin = o
	case up.urlHost != nil:
		d.origin = *up.urlHost
	default:
		return d, errors.New("the origin attribute must not be empty")
	}
	return g.destinationAt(bv, up, d.origin), nil
}

// destinationAt is the destination at origin o: the Host header and TLS
// server name from hostname, and the pool's key.
func (g *Gateway) destinationAt(bv *backendView, up *upstream, o origin) destination {
	d := destination{origin: o}
	serverName := ""
	if bv.hasHostname {
		d.hostHeader = headerValue(bv.hostname.eval(up.data))
		// The hostname is also the TLS server identity, as in Couper.
		serverName = d.hostHeader
		if h, _, err := net.SplitHostPort(serverName); err == nil {
			serverName = h
		}
	}
	d.key = transportKey{scheme: d.origin.scheme, hostPort: d.origin.hostPort(), serverName: serverName, proxy: bv.proxy}
	return d
}

// appendForwardedFor adds the client address to X-Forwarded-For, as nginx
// and HAProxy do (Couper forwards the client's header unchanged).
func appendForwardedFor(h http.Header, clientIP string) {
	if clientIP == "" {
		return
	}
	if prior := h.Values("X-Forwarded-For"); len(prior) > 0 {
		clientIP = strings.Join(prior, ", ") + ", " + clientIP
	}
	h.Set("X-Forwarded-For", clientIP)
}

// clientBody notes a failure to read the client's body; net/http's
// Transport reads it on a goroutine of its own.
type clientBody struct {
	io.ReadCloser
	failed atomic.Bool
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.failed.Store(true)
	}
	return n, err
}

// blameRequest marks err as the client's fault when request values went
// into what failed.
func blameRequest(err error, fromRequest bool) error {
	var ce *clientError
	if !fromRequest || errors.As(err, &ce) {
		return err
	}
	return &clientError{err: err}
}

// classify maps a failed wait or round trip to an error kind: the ttfb
// timer, then the total deadline (which also ends a stalled upload, and
// net/http then reports the client as gone), then the client leaving;
// anything else (refused, reset, TLS, connect timeout) is a backend error.
func classify(client context.Context, deadline time.Time, err error) *gatewayError {
	switch {
	case errors.Is(err, errTTFBTimeout):
		return newError(kindTimeout, errTTFBTimeout)
	case errors.Is(err, errDeadline) || !deadline.IsZero() && !time.Now().Before(deadline):
		return newError(kindTimeout, errDeadline)
	case client.Err() != nil:
		return newError(kindClientGone, errClientCancel)
	}
	return newError(kindBackend, err)
}
