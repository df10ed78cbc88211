package gateway

import (
	"context"
	"net/http"
)

// A backend is a chain of round-trip layers around its transport, built
// once per backend view (a definition, a refinement, an inline backend).
// They run in this order on the way out, and in reverse on the way back:
//
//	gateLayer      layer_gate.go      health gate (beta_health, admin state)
//	tokensLayer    token_request.go   beta_token_request tokens, for the templates below
//	modifyLayer    layer_modify.go    backend path, request modifiers, path_prefix;
//	                                  on the way back response modifiers, set_response_status
//	throttleLayer  layer_throttle.go  starts the timeout clock, beta_rate_limit/throttle queue
//	slotLayer      layer_slot.go      max_connections slot, in-flight count, upload deadline
//	authLayer      layer_auth.go      upstream credentials: oauth2 (retry on 401), basic_auth
//	validateLayer  layer_validate.go  extension point: request/response validation (openapi)
//	originLayer    layer_origin.go    which origin and pool; balanceLayer (layer_balance.go)
//	                                  instead for a backend with origins: policy (picker,
//	                                  balance_pick.go), retries, passive health
//	sendLayer      layer_send.go      final headers, the transport, hop-by-hop stripping
//
// Layers with nothing to do for a backend are left out of its chain. Each
// layer owns its block's attributes: request and response modifiers are
// applied in modifyLayer only, credentials in authLayer only.
type layer interface {
	roundTrip(c *call) (*exchange, *gatewayError)
}

// call is one request on its way through a backend's layers: what the
// endpoint handed over and what earlier layers decided.
type call struct {
	g      *Gateway
	ctx    context.Context
	bv     *backendView
	up     *upstream
	limits requestLimits // set by throttleLayer
	dest   destination   // set by originLayer
	// transport is the pool originLayer chose.
	transport upstreamTransport
	// unanswered: sendLayer's last round trip failed before the origin
	// sent a byte (balanceLayer's reset and timeout retries).
	unanswered bool
	// origins is what originsGateLayer judged of a backend with origins,
	// for balanceLayer to pick from (origins_judge.go).
	origins gatedOrigins
	// check is the openapi validator's state, kept for the response.
	check *openapiCheck
	// fixedValues back the request id and empty User-Agent fields
	// sendLayer sets, so they cost no allocation of their own; written on
	// the first attempt only (a retry's transport may still read the last).
	fixedValues [2]string
	// forwardedFor backs the X-Forwarded-For value sendLayer sets; a retry
	// computes the same value (balanceLayer restores the client's field
	// first) and leaves it as it is.
	forwardedFor [1]string
	// ex is the answer, kept inside call so a request allocates one
	// struct for both.
	ex exchange
}

// exchange is a finished round trip whose body is still to be read; done
// closes it and runs the layers' cleanups (freeing the slot, say) once the
// body has been copied.
type exchange struct {
	resp     *http.Response
	cleanups [4]func()
	n        int
	finished bool
	// stickyCookie is cookie_hash's Set-Cookie line for a client that
	// had no usable cookie; the handler adds it after every response
	// modifier (addStickyCookie), so a rule removing Set-Cookie does not
	// take the gateway's own cookie with it.
	stickyCookie string
}

// onDone registers f to run (in reverse order of registration) when the
// exchange is done. The functions are bound once per runtime, not per
// request, so registering allocates nothing.
func (ex *exchange) onDone(f func()) {
	if ex.n == len(ex.cleanups) {
		panic("gateway: too many exchange cleanups")
	}
	ex.cleanups[ex.n] = f
	ex.n++
}

// done closes the response body and runs the cleanups; later calls do
// nothing. The handler calls it from its own goroutine only.
func (ex *exchange) done() {
	if ex.finished {
		return
	}
	ex.finished = true
	if ex.resp != nil && ex.resp.Body != nil {
		ex.resp.Body.Close()
	}
	for i := ex.n - 1; i >= 0; i-- {
		ex.cleanups[i]()
	}
}

// roundTrip runs the backend stage of spec §0 step 3 through bv's layers.
func (g *Gateway) roundTrip(ctx context.Context, bv *backendView, up *upstream) (*exchange, *gatewayError) {
	return g.roundTripIn(ctx, new(call), bv, up)
}

// roundTripIn is roundTrip with the call's state in c, which the caller
// allocated (ServeHTTP: with the rest of the request's state).
func (g *Gateway) roundTripIn(ctx context.Context, c *call, bv *backendView, up *upstream) (*exchange, *gatewayError) {
	*c = call{g: g, ctx: ctx, bv: bv, up: up}
	return bv.chain.roundTrip(c)
}

// buildLayers assembles bv's chain from the inside out, in the order of
// the list above.
func (g *Gateway) buildLayers(bv *backendView) layer {
	var l layer = &sendLayer{}
	if set := bv.rt.origins; set != nil {
		l = &balanceLayer{set: set, next: l} // layer_balance.go
	} else {
		l = &originLayer{next: l}
	}
	if v := bv.validator; v != nil {
		l = &validateLayer{v: v, next: l}
	}
	hasBasic := bv.basicAuth.usesRequest() || bv.basicAuth.eval(nil) != ""
	if hasBasic || bv.rt.oauth != nil {
		l = &authLayer{basicAuth: bv.basicAuth, hasBasic: hasBasic, oauth: bv.rt.oauth, next: l}
	}
	l = &slotLayer{rt: bv.rt, next: l}
	l = &throttleLayer{rt: bv.rt, next: l}
	l = &modifyLayer{next: l}
	if len(bv.rt.tokenRequests) > 0 {
		l = &tokensLayer{requests: bv.rt.tokenRequests, next: l}
	}
	if bv.rt.origins != nil {
		l = &originsGateLayer{useWhenUnhealthy: bv.useWhenUnhealthy, next: l}
	} else if bv.rt.group != "" {
		l = &gateLayer{group: bv.rt.group, useWhenUnhealthy: bv.useWhenUnhealthy, next: l}
	}
	return l
}
