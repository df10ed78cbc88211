package gateway

import (
	"time"

	"github.com/backline/backline/internal/health"
)

// SlowStartRamps lists the origins ramping at now by health registry ID
// (the IDs of /api/v1/backends). A ramp still counts until its end even
// when no request has come since to finish it.
//
// Only the active gateway's origins count, each with its own set's
// slow_start: a reload that built a gateway and then failed leaves the
// running one in charge, and its picks follow their own ramp length.
func (m *Metrics) SlowStartRamps(now time.Time) map[string]health.SlowStartRamp {
	if m == nil || m.m == nil {
		return nil
	}
	p := m.m.conns.backends.Load()
	if p == nil {
		return nil
	}
	var out map[string]health.SlowStartRamp
	for _, rt := range *p {
		s := rt.origins
		if s == nil || s.slowStart <= 0 {
			continue // one origin, a hash policy or slow start off
		}
		for _, o := range s.origins {
			r, ok := o.ramp.running(now, s.slowStart)
			if !ok {
				continue
			}
			if out == nil {
				out = map[string]health.SlowStartRamp{}
			}
			out[o.id] = r
		}
	}
	return out
}

// running is the ramp of length d at now; false when the origin is
// steady, down or past its ramp.
func (r *originRamp) running(now time.Time, d time.Duration) (health.SlowStartRamp, bool) {
	start := r.state.Load()
	if start <= 0 {
		return health.SlowStartRamp{}, false // steady or down
	}
	since := time.Unix(0, start)
	elapsed := now.Sub(since)
	if elapsed >= d {
		return health.SlowStartRamp{}, false // over; the next pick marks it steady
	}
	return health.SlowStartRamp{Since: since, Until: since.Add(d),
		Share: float64(rampShare(elapsed, d)) / fullShare}, true
}
