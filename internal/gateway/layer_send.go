package gateway

import (
	"net/http"
	"time"
)

// sendLayer is the innermost layer: the last request headers, the
// transport, and hop-by-hop stripping of the response.
type sendLayer struct{}

func (sendLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	out, dest := c.up.req, &c.dest
	var plain *plainUpstream
	if c.up.plainOn {
		if _, ok := c.transport.(*h1Pool); ok {
			plain = c.plainHeaders()
		} else {
			c.up.leavePlain()
		}
	}
	if plain == nil {
		c.setHeaders(out)
	}
	out.URL.Scheme, out.URL.Host = dest.origin.scheme, dest.origin.host
	out.Host = dest.hostHeader

	var body *clientBody
	if out.Body != nil && out.Body != http.NoBody {
		body = &clientBody{ReadCloser: out.Body}
		out.Body = body
	}
	ctx := c.ctx
	if c.bv.rt.transports.proxyProtocol != 0 {
		ctx = withProxySource(ctx, c.proxySource())
	}
	var resp *http.Response
	var err error
	c.limits.sending = time.Now()
	if plain != nil {
		resp, err = c.transport.(*h1Pool).roundTripPlain(ctx, out, c.limits, plain)
	} else {
		resp, err = c.transport.roundTrip(ctx, out, c.limits)
	}
	c.unanswered = err != nil && unanswered(err)
	if err != nil {
		if body != nil && body.failed.Load() {
			// A broken upload (bad chunked framing, say) surfaces as a
			// failed write to the origin; it is the client's fault.
			err = blameRequest(err, true)
		}
		return nil, classify(c.ctx, c.limits.deadline, err)
	}
	if resp.Header != nil { // nil: a raw answer head, filtered as it is written
		stripHopHeaders(resp.Header)
	}
	// A fresh exchange: a layer that retries has finished the last one.
	c.ex = exchange{resp: resp}
	return &c.ex, nil
}

// setHeaders writes the gateway's last fields into the upstream request's
// header map.
func (c *call) setHeaders(out *http.Request) {
	if v := forwardedFor(out.Header, c.up.clientIP); v != "" {
		if c.forwardedFor[0] != v { // a retry's value is the same: no write
			c.forwardedFor[0] = v
		}
		out.Header["X-Forwarded-For"] = c.forwardedFor[:]
	}
	if h := c.g.reqIDs.backend; h != "" {
		// Set last: a client cannot choose it. A request of backline's own
		// (an oauth2 or beta_token_request token fetch, shared by the
		// requests waiting for it) has no id and sends no empty header.
		if id := c.up.data.id; id != "" {
			if c.fixedValues[0] != id {
				c.fixedValues[0] = id
			}
			out.Header[h] = c.fixedValues[0:1:1]
		} else {
			delete(out.Header, h)
		}
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = c.fixedValues[1:2:2] // "": keeps Go's default agent out
	}
	// The client already had its 100 Continue from our server.
	delete(out.Header, "Expect")
}

// plainHeaders is setHeaders for a plain request: the same values, kept
// beside the client's fields (which are never written to).
func (c *call) plainHeaders() *plainUpstream {
	p := &c.up.plain
	p.forwardedFor = forwardedFor(p.fwd.r.Header, c.up.clientIP)
	p.idName, p.id = c.g.reqIDs.backend, ""
	if p.idName != "" && c.up.data != nil {
		p.id = c.up.data.id
	}
	return p
}
