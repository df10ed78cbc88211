package gateway

import (
	"time"

	"github.com/backline/backline/internal/health"
)

// SlowStartRamps lists the origins ramping at now by health registry ID
// (the IDs of /api/v1/backends). A ramp still counts until its end even
// when no request has come since to finish it.
func (m *Metrics) SlowStartRamps(now time.Time) map[string]health.SlowStartRamp {
	if m == nil || m.m == nil {
		return nil
	}
	return m.m.ramps.running(now)
}

func (m *rampMemory) running(now time.Time) map[string]health.SlowStartRamp {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out map[string]health.SlowStartRamp
	for id, r := range m.byID {
		start, length := r.state.Load(), time.Duration(r.length.Load())
		if start <= 0 || length <= 0 {
			continue // steady, down or slow start off
		}
		since := time.Unix(0, start)
		elapsed := now.Sub(since)
		if elapsed >= length {
			continue // over; the next pick marks it steady
		}
		if out == nil {
			out = map[string]health.SlowStartRamp{}
		}
		out[id] = health.SlowStartRamp{Since: since, Until: since.Add(length),
			Share: float64(rampShare(elapsed, length)) / fullShare}
	}
	return out
}
