package gateway

import (
	"testing"
	"time"
)

type recordLimits struct{ got *requestLimits }

func (r recordLimits) roundTrip(c *call) (*exchange, *gatewayError) {
	*r.got = c.limits
	return nil, nil
}

// The backend's timeout clock starts at the backend's queues
// (docs/gateway.md, timeout: "Form modifiers read their form body before
// the clock starts"), not when the request's first byte arrived: the time
// a request spent before (its head, a form body the form modifiers read,
// beta_token_request fetches) is not taken from its backend's timeout.
func TestReadTimeoutClockStartsAtTheBackendNotAtArrival(t *testing.T) {
	var got requestLimits
	l := &throttleLayer{rt: &backendRuntime{}, next: recordLimits{&got}}
	c := &call{
		bv: &backendView{timeout: time.Minute},
		up: &upstream{},
	}
	before := time.Now()
	l.roundTrip(c)
	if got.deadline.Before(before.Add(time.Minute)) {
		t.Fatalf("deadline %v is less than the timeout (1m) after the backend got the request (%v)", got.deadline, before)
	}
}
