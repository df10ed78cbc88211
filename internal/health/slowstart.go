package health

import "time"

// SlowStartRamp is a gateway origin's running slow start ramp
// (slow_start): the gateway keeps the ramps, the status API and page show
// them next to the origin's health.
type SlowStartRamp struct {
	Since time.Time // the ramp's first pick
	Until time.Time // full weight from then on
	// Share of the origin's weight it gets now: 0.1 to 1.
	Share float64
}
