package server

import (
	"fmt"
	"math"
	"time"

	"github.com/backline/backline/internal/health"
)

// slowStartView is a gateway origin's running slow_start ramp: since its
// first pick, full weight at until, share of its weight now (0.1..1).
type slowStartView struct {
	Since *time.Time `json:"since,omitempty"`
	Until *time.Time `json:"until,omitempty"`
	Share float64    `json:"share"`
}

func (s *Server) slowStartRamps(now time.Time) map[string]health.SlowStartRamp {
	if s.opts.SlowStart == nil {
		return nil
	}
	return s.opts.SlowStart(now)
}

// rampOf is b's running ramp. Only an eligible origin has one: the
// gateway's ramp memory moves with picks, so an origin that went down
// mid-ramp keeps it there until the next request, while it gets nothing
// (and ramps anew once back).
func rampOf(ramps map[string]health.SlowStartRamp, b health.Backend) (health.SlowStartRamp, bool) {
	if !b.Eligible {
		return health.SlowStartRamp{}, false
	}
	r, ok := ramps[b.ID]
	return r, ok
}

func viewSlowStart(ramps map[string]health.SlowStartRamp, b health.Backend) *slowStartView {
	r, ok := rampOf(ramps, b)
	if !ok {
		return nil
	}
	return &slowStartView{Since: timePtr(r.Since), Until: timePtr(r.Until), Share: math.Round(r.Share*1000) / 1000}
}

// slowStartText is what a ramping origin's row adds to its detail: the
// share of its weight it gets now and when it gets all of it.
func slowStartText(ramps map[string]health.SlowStartRamp, b health.Backend, now time.Time) string {
	r, ok := rampOf(ramps, b)
	if !ok {
		return ""
	}
	return fmt.Sprintf("slow start %d %% of its weight, full in %s", int(math.Floor(r.Share*100)), shortDuration(r.Until.Sub(now)))
}
