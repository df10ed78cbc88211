package server

import (
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
)

// The status page's "probed every" note shows the interval in use as
// configured: down_interval: 90s is not "1m", fast_interval: 1500ms not "1s".
func TestReviewStatusRowIntervalDetailExact(t *testing.T) {
	for _, tc := range []struct {
		sc   health.Schedule
		want string
	}{
		{health.Schedule{State: health.IntervalDown, Connect: 90 * time.Second, Own: true}, "probed every 1m30s (down_interval)"},
		{health.Schedule{State: health.IntervalTransitioning, Connect: 1500 * time.Millisecond, Own: true}, "probed every 1.5s (fast_interval)"},
		{health.Schedule{State: health.IntervalDown, Connect: 2 * time.Hour, Own: true}, "probed every 2h (down_interval)"},
		{health.Schedule{State: health.IntervalDown, Connect: 24 * time.Hour, Own: true}, "probed every 24h (down_interval)"},
		{health.Schedule{State: health.IntervalDown, Connect: 5 * time.Minute, Own: true}, "probed every 5m (down_interval)"},
	} {
		if got := intervalDetail(tc.sc); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.sc.Connect, got, tc.want)
		}
	}
}
