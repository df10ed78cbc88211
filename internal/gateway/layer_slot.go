package gateway

import "net/http"

// slotLayer holds one of the backend's max_connections slots (when it has
// a limit) and counts the request in flight until its response body is
// done. Once the request may go, the client's upload is bounded by the
// total deadline too.
type slotLayer struct {
	rt   *backendRuntime
	next layer
}

func (l *slotLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	rt := l.rt
	if rt.slots.limited() {
		waitCtx, cancel := c.waitContext()
		err := rt.slots.acquire(waitCtx)
		cancel()
		if err != nil {
			return nil, classify(c.ctx, c.limits.deadline, err)
		}
	}
	// Neither the connection deadlines nor the context wake a read of a
	// client that stalls its upload.
	out := c.up.req
	if !c.limits.deadline.IsZero() && c.up.setClientReadDeadline != nil && out.Body != nil && out.Body != http.NoBody {
		_ = c.up.setClientReadDeadline(c.limits.deadline)
	}
	rt.inFlight.Add(1)
	ex, gerr := l.next.roundTrip(c)
	if gerr != nil {
		rt.releaseSlot()
		return nil, gerr
	}
	ex.onDone(rt.releaseSlotFunc)
	return ex, nil
}
