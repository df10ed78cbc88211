package gateway

import (
	"context"
	"errors"
	"time"
)

// throttleLayer starts the backend's timeout clock and waits for the
// throttle (beta_rate_limit / throttle). The clock starts before the
// throttle and slot queues: waiting counts against the timeout, as in
// Couper. Every chain has this layer, for the clock.
//
// A request the throttle's queue sheds (max_queue, queue_timeout) gets
// backend_overloaded 503 with Retry-After, as one the slot queue sheds, not
// backend_throttle_exceeded 429: Couper answers 429 only for a mode block
// rule, which refuses by design; a wait rule promised to wait, so being
// refused is this gateway's overload, and alerts on shedding see both.
type throttleLayer struct {
	rt   *backendRuntime
	next layer
}

func (l *throttleLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	bv := c.bv
	c.limits = requestLimits{connect: bv.connectTimeout, ttfb: bv.ttfbTimeout}
	timeout := bv.timeout
	if u := c.up.upgrade; u != nil {
		timeout = u.timeout(bv) // the websockets timeout bounds the tunnel too
	}
	if timeout > 0 {
		// Now, not the request's arrival: what came before (its head, a
		// form body the form modifiers read, token fetches) is not the
		// backend's time (docs/gateway.md, timeout).
		c.limits.deadline = time.Now().Add(timeout)
	}
	if l.rt.throttle != nil {
		waitCtx, cancel := c.waitContext()
		err := l.rt.throttle.wait(waitCtx)
		cancel()
		switch {
		case errors.Is(err, errThrottled):
			return nil, newError(kindThrottle, err)
		case errors.Is(err, errThrottleQueueFull):
			l.rt.metrics.shed.WithLabelValues(queueThrottle, "full").Inc()
			return nil, newError(kindOverloaded, err)
		case errors.Is(err, errThrottleQueueTimeout):
			l.rt.metrics.shed.WithLabelValues(queueThrottle, "timeout").Inc()
			return nil, newError(kindOverloaded, err)
		case err != nil:
			return nil, classify(c.ctx, c.limits.deadline, err)
		}
	}
	return l.next.roundTrip(c)
}

// waitContext is the context a queue waits with: the client's, ended by
// the total deadline too. Only queues need it; the transports enforce the
// deadline on the connection.
func (c *call) waitContext() (context.Context, context.CancelFunc) {
	if c.limits.deadline.IsZero() {
		return c.ctx, func() {}
	}
	return context.WithDeadline(c.ctx, c.limits.deadline)
}
