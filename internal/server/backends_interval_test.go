package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
)

// The status API says how far apart a backend is probed now and why.
func TestBackendViewCheckInterval(t *testing.T) {
	for _, tc := range []struct {
		sc   health.Schedule
		want string
	}{
		{health.Schedule{State: health.IntervalNormal, Connect: 10 * time.Second, Deep: time.Minute},
			`"check_interval":{"state":"normal","connect_seconds":10,"deep_seconds":60}`},
		{health.Schedule{State: health.IntervalDown, Connect: 5 * time.Minute, Own: true},
			`"check_interval":{"state":"down","connect_seconds":300,"setting":"down_interval"}`},
		{health.Schedule{State: health.IntervalTransitioning, Connect: 1500 * time.Millisecond, Deep: 1500 * time.Millisecond, Own: true},
			`"check_interval":{"state":"transitioning","connect_seconds":1.5,"deep_seconds":1.5,"setting":"fast_interval"}`},
		{health.Schedule{State: health.IntervalDown, Connect: 30 * time.Second},
			`"check_interval":{"state":"down","connect_seconds":30}`},
	} {
		out, err := json.Marshal(viewBackend(health.Backend{ID: "x", Schedule: tc.sc}))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("missing %s in %s", tc.want, out)
		}
	}
	// A passive-only origin is never probed: no interval at all.
	plain, _ := json.Marshal(viewBackend(health.Backend{ID: "x"}))
	if strings.Contains(string(plain), "check_interval") {
		t.Errorf("an unprobed backend shows an interval: %s", plain)
	}
}

func TestStatusRowIntervalDetail(t *testing.T) {
	if got := intervalDetail(health.Schedule{State: health.IntervalDown, Connect: 5 * time.Minute, Own: true}); got != "probed every 5m (down_interval)" {
		t.Errorf("down: %q", got)
	}
	if got := intervalDetail(health.Schedule{State: health.IntervalDown, Connect: 10 * time.Second}); got != "" {
		t.Errorf("down without down_interval: %q, want nothing", got)
	}
}
