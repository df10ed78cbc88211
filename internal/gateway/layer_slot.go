package gateway

import (
	"errors"
	"net/http"
)

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
			return nil, l.refused(c, err)
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

// refused maps a failed wait for a slot to its answer: a shed request is
// backend_overloaded (503) and counted by reason; the client leaving or
// the total deadline passing first are classified as anywhere else.
func (l *slotLayer) refused(c *call, err error) *gatewayError {
	switch {
	case errors.Is(err, errQueueFull):
		l.rt.metrics.shed.WithLabelValues(queueSlot, "full").Inc()
	case errors.Is(err, errQueueTimeout):
		l.rt.metrics.shed.WithLabelValues(queueSlot, "timeout").Inc()
	default:
		return classify(c.ctx, c.limits.deadline, err)
	}
	return newError(kindOverloaded, err)
}
