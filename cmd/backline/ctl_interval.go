package main

import (
	"math"
	"strings"
	"time"
)

// ctlInterval is a backend's check_interval: how far apart it is probed
// now, and why.
type ctlInterval struct {
	State          string  `json:"state"`
	ConnectSeconds float64 `json:"connect_seconds"`
	DeepSeconds    float64 `json:"deep_seconds"`
	Setting        string  `json:"setting"`
}

// ctlIntervalText is "5m (down: down_interval)", "5s (transitioning:
// fast_interval)", "10s (down)" without a down_interval, "10s" for a
// stable backend, or "10s connect, 1m deep" when the phases differ.
func ctlIntervalText(iv ctlInterval) string {
	s := ctlSeconds(iv.ConnectSeconds)
	if iv.DeepSeconds > 0 && iv.DeepSeconds != iv.ConnectSeconds {
		s += " connect, " + ctlSeconds(iv.DeepSeconds) + " deep"
	}
	state := ctlCell(iv.State)
	switch {
	case iv.Setting != "":
		s += " (" + state + ": " + ctlCell(iv.Setting) + ")"
	case state != "-" && state != "normal":
		s += " (" + state + ")"
	}
	return s
}

// ctlSeconds prints a daemon's seconds as an operator writes a duration:
// "10s", "5m", "1h30m", "1.5s". Values no daemon sends print as "-".
func ctlSeconds(f float64) string {
	if math.IsNaN(f) || f <= 0 || f > float64(math.MaxInt64/int64(time.Second)) {
		return "-"
	}
	s := time.Duration(f * float64(time.Second)).Round(time.Millisecond).String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}
