package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
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
	origins    *originSet        // several origins (origins.go); nil: one origin
	openapi    *openapiValidator // nil without an openapi block

	inFlight        atomic.Int64
	releaseSlotFunc func()

	// Upstream credentials, compiled once per runtime (auth.go).
	authCompiled   bool
	oauth          *oauth2Source
	tokenRequests  []*tokenRequest
	slotQueued     atomic.Int64
	throttleQueued atomic.Int64
}

// releaseSlot ends a request's time in flight: its slot goes to the next
// waiter. releaseSlotFunc is the same, bound once (exchange.onDone).
func (rt *backendRuntime) releaseSlot() {
	rt.inFlight.Add(-1)
	rt.slots.release()
}

// publishSlotQueue and publishThrottleQueue report a queue's new length:
// its own series of queue_waiting and the sum in queue_length.
func (rt *backendRuntime) publishSlotQueue(n int) {
	rt.slotQueued.Store(int64(n))
	rt.metrics.slotWaiting.Set(float64(n))
	rt.metrics.queue.Set(float64(rt.slotQueued.Load() + rt.throttleQueued.Load()))
}

func (rt *backendRuntime) publishThrottleQueue(n int) {
	rt.throttleQueued.Store(int64(n))
	rt.metrics.throttleWaiting.Set(float64(n))
	rt.metrics.queue.Set(float64(rt.slotQueued.Load() + rt.throttleQueued.Load()))
}

// backendView is a backend's effective attributes: the definition, or the
// definition with a refinement laid over it. Values are compiled templates.
type backendView struct {
	rt   *backendRuntime
	mods modifiers

	path, pathPrefix, origin, hostname, basicAuth template
	hasPath, hasPrefix, hasOrigin, hasHostname    bool
	// fixedOrigin is origin parsed at load when it reads nothing of the
	// request (the usual case): no URL is parsed per request.
	fixedOrigin *origin
	proxy       string

	connectTimeout, ttfbTimeout, timeout time.Duration
	setStatus                            int
	useWhenUnhealthy                     bool
	logFields                            valueSet
	warned204                            atomic.Bool

	cfg *config.Backend

	// validator checks requests and responses (nil: no validateLayer).
	validator validator
	// chain is the backend's layers (layers.go), built once all views
	// are compiled.
	chain layer
}

func (c *compiler) backendView(rt *backendRuntime, b *config.Backend) *backendView {
	p := b.Path
	j := func(k string) string { return p + "." + k }
	saved := c.tokens
	defer func() { c.tokens = saved }()
	c.tokens = tokenScope{label: rt.name}
	if len(b.TokenRequests) > 0 {
		c.tokens.names = map[string]bool{}
		for _, t := range b.TokenRequests {
			c.tokens.names[t.Name] = true
		}
	}
	v := &backendView{
		rt:               rt,
		cfg:              b,
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
	if v.hasOrigin && !v.origin.usesRequest() {
		if o, err := parseOrigin(v.origin.eval(nil)); err == nil {
			v.fixedOrigin = &o
		} // else each request reports the error, as before
	}
	if rt.openapi != nil {
		v.validator = rt.openapi
	}
	c.views = append(c.views, v)
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
	upgrade               *upgradeRequest // a websocket (or other Upgrade) to forward
	// plainOn: req shares its client's header map, and what goes upstream
	// besides the client's fields is in plain (plain.go).
	plainOn   bool
	plain     plainUpstream
	plainCopy struct {
		req http.Request
		url url.URL
	}
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
	case bv.fixedOrigin != nil:
		d.origin = *bv.fixedOrigin
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
	return g.destinationAtHostPort(bv, up, o, o.hostPort())
}

// destinationAtHostPort is destinationAt with o's host:port known (an
// origin of a set keeps it, so a request does not build it again).
func (g *Gateway) destinationAtHostPort(bv *backendView, up *upstream, o origin, hostPort string) destination {
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
	d.key = transportKey{scheme: d.origin.scheme, hostPort: hostPort, serverName: serverName, proxy: bv.proxy}
	return d
}

// forwardedFor is h's X-Forwarded-For with the client address appended, as
// nginx and HAProxy send it (Couper forwards the client's field unchanged);
// "" when there is no client address (the field stays as it is).
func forwardedFor(h http.Header, clientIP string) string {
	if clientIP == "" {
		return ""
	}
	if prior := h["X-Forwarded-For"]; len(prior) > 0 {
		return strings.Join(prior, ", ") + ", " + clientIP
	}
	return clientIP
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
	case clientLeft(client):
		return newError(kindClientGone, errClientCancel)
	}
	return newError(kindBackend, err)
}
