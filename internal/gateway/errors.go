package gateway

import (
	"errors"
	"net/http"
	"strconv"
)

// ErrorHeader names the response header carrying the error type of a
// gateway-generated answer (Couper calls its header Couper-Error and puts a
// synopsis there; backline puts the machine-readable type).
const ErrorHeader = "Backline-Error"

// errorKind is one row of the error model (spec §5). The names of the
// backend family are Couper's so error handling written for it carries over.
type errorKind struct {
	Type   string
	Status int
}

var (
	kindBackend         = errorKind{"backend", http.StatusBadGateway}
	kindTimeout         = errorKind{"backend_timeout", http.StatusGatewayTimeout}
	kindUnhealthy       = errorKind{"backend_unhealthy", http.StatusBadGateway}
	kindThrottle        = errorKind{"backend_throttle_exceeded", http.StatusTooManyRequests}
	kindConfiguration   = errorKind{"configuration", http.StatusInternalServerError}
	kindRouteNotFound   = errorKind{"route_not_found", http.StatusNotFound}
	kindMethodNotAllowd = errorKind{"method_not_allowed", http.StatusMethodNotAllowed}
	// kindTooLarge is a client body the gateway must read (form modifiers)
	// and will not hold in memory.
	kindTooLarge = errorKind{"request_too_large", http.StatusRequestEntityTooLarge}
	// kindClientRequest is a request the gateway will not forward as sent:
	// faulty framing, a broken body, a path that climbs out of its
	// endpoint. The client is to blame, never the backend.
	kindClientRequest = errorKind{"client_request", http.StatusBadRequest}
	// kindClientGone is logged only: nobody is left to answer.
	kindClientGone = errorKind{"client_canceled", 499}
	// kindOverloaded is a request shed by the max_connections queue or the
	// throttle's wait queue (max_queue, queue_timeout): the backend is
	// saturated, not broken, so
	// 503 as from HAProxy's queue (and Envoy's pending-request limit, with
	// x-envoy-overloaded), not 502; writeError adds Retry-After.
	kindOverloaded = errorKind{"backend_overloaded", http.StatusServiceUnavailable}
)

// gatewayError is a failure with its kind (for the client) and its cause
// (for the log only: it may name addresses the client should not see).
type gatewayError struct {
	kind  errorKind
	cause error
}

func (e *gatewayError) Error() string {
	if e.cause == nil {
		return e.kind.Type
	}
	return e.kind.Type + ": " + e.cause.Error()
}

func (e *gatewayError) Unwrap() error { return e.cause }

func newError(kind errorKind, cause error) *gatewayError {
	var ce *clientError
	switch {
	case errors.Is(cause, errFormTooLarge):
		kind = kindTooLarge // a client problem, whichever stage read the form
	case errors.As(cause, &ce):
		kind = kindClientRequest
	}
	return &gatewayError{kind: kind, cause: cause}
}

// clientError marks a cause the client's request is to blame for, found
// wherever it surfaces: reading the client's body (while it streams
// upstream or for form modifiers) or a path built from request values.
type clientError struct{ err error }

func (e *clientError) Error() string { return e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

// Causes used in several places.
var (
	errTTFBTimeout  = errors.New("timeout awaiting response headers")
	errDeadline     = errors.New("deadline exceeded")
	errUnhealthy    = errors.New("backend is unhealthy")
	errThrottled    = errors.New("throttle limit exceeded")
	errNoRoute      = errors.New("no endpoint matches the path")
	errWrongMethod  = errors.New("the endpoint does not allow the method")
	errClientCancel = errors.New("client canceled the request")
	errFormTooLarge = errors.New("form body too large for form modifiers")
	errDotSegment   = errors.New(`the request path has a "." or ".." segment`)
)

// overloadRetryAfter is the Retry-After of backend_overloaded, in seconds.
const overloadRetryAfter = "1"

// writeError answers with the error type in a header and a small JSON body;
// the cause stays in the log.
func writeError(w http.ResponseWriter, kind errorKind, requestID string) {
	if a, ok := w.(*accessWriter); ok {
		a.errType = kind.Type // the gateway's own word, not a field an origin could send
	}
	h := w.Header()
	h.Set(ErrorHeader, kind.Type)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if kind == kindOverloaded {
		// A hint, not a promise: a slot frees as soon as any request in
		// flight ends, so a second is the shortest wait worth naming.
		h.Set("Retry-After", overloadRetryAfter)
	}
	body := `{"error":{"type":` + strconv.Quote(kind.Type) +
		`,"status":` + strconv.Itoa(kind.Status) +
		`,"request_id":` + strconv.Quote(requestID) + "}}\n"
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(kind.Status)
	_, _ = w.Write([]byte(body))
}
