package server

import (
	"strings"
	"time"

	"github.com/backline/backline/internal/health"
)

// intervalView is a backend's interval in use (health.Schedule): state is
// normal, transitioning (part-way to failure_threshold or
// recovery_threshold) or down; setting names fast_interval or
// down_interval when that, not the group's interval, paces the probes.
// deep_seconds only for deep_check backends.
type intervalView struct {
	State          string  `json:"state"`
	ConnectSeconds float64 `json:"connect_seconds"`
	DeepSeconds    float64 `json:"deep_seconds,omitempty"`
	Setting        string  `json:"setting,omitempty"`
}

func viewInterval(sc health.Schedule) *intervalView {
	if sc.State == health.IntervalNone {
		return nil // passive-only: never probed
	}
	return &intervalView{State: sc.State.String(), ConnectSeconds: seconds(sc.Connect),
		DeepSeconds: seconds(sc.Deep), Setting: sc.Setting()}
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// intervalDetail is a status page row's note while fast_interval or
// down_interval, not the group's interval, paces its probes: "probed
// every 5m (down_interval)". "" otherwise, so stable rows stay quiet.
func intervalDetail(sc health.Schedule) string {
	if !sc.Own {
		return ""
	}
	return "probed every " + intervalText(sc.Connect) + " (" + sc.Setting() + ")"
}

// intervalText prints an interval as an operator writes it ("1m30s",
// "1.5s", "5m", "2h"): shortDuration, made for ages, would cut 90s to "1m".
func intervalText(d time.Duration) string {
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}
