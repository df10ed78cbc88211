package config

import (
	"fmt"
	"time"
)

// MinProbeInterval is the shortest connect_interval and deep_interval. A
// probe opens a connection and, with deep_check, logs in: HAProxy accepts
// inter down to 1ms for a TCP check, but a mail login more often than once a
// second per target only loads the backend and floods its logs.
const MinProbeInterval = time.Second

// MinGatewayHealthInterval is the shortest beta_health interval. Couper's
// default is 1s and sets no minimum; an HTTP GET is cheaper than a login, so
// ten per second per backend are allowed, 1ns (a busy loop) is not.
const MinGatewayHealthInterval = 100 * time.Millisecond

// interval returns connect_interval or deep_interval by key.
func (h *HealthChecks) interval(key string) time.Duration {
	if key == "deep_interval" {
		return h.DeepInterval
	}
	return h.ConnectInterval
}

// validIntervals reports whether both intervals passed their own checks, so
// the timeout budget is only compared with an interval that can run.
func (h *HealthChecks) validIntervals() bool {
	for _, d := range []time.Duration{h.ConnectInterval, h.DeepInterval} {
		if d < MinProbeInterval || d > 24*time.Hour {
			return false
		}
	}
	return true
}

// checkProbeBudget applies "timeout <= interval" to a target's effective
// values, so a probe ends before the next one is due:
//
//   - connect phase: connect_timeout, plus tls_timeout when the handshake is
//     part of it (tls_mode implicit), at most connect_interval;
//   - deep phase (deep_check only): deep_timeout at most deep_interval.
//
// The error goes to the first key the target overrides, else to the first
// global key written; an error that comes from the globals alone is
// reported once, not once per target.
func (v *validator) checkProbeBudget(key func(string) string, t *Target, h *HealthChecks) {
	// Values out of their own range are reported by their own check.
	if !h.validIntervals() || t.ConnectTimeout > time.Minute || t.TLSTimeout > time.Minute || t.DeepTimeout > 5*time.Minute {
		return
	}
	const tail = "a probe must end before the next is due"
	if t.ConnectTimeout > 0 && t.TLSTimeout > 0 {
		keys := []string{"connect_timeout"}
		msg := fmt.Sprintf("connect_timeout (%s)", t.ConnectTimeout)
		budget := t.ConnectTimeout
		if t.TLSMode == TLSImplicit {
			keys = append(keys, "tls_timeout")
			msg += fmt.Sprintf(" + tls_timeout (%s)", t.TLSTimeout)
			budget += t.TLSTimeout
		}
		if budget > h.ConnectInterval {
			v.addOnce(v.budgetPath(key, append(keys, "connect_interval")),
				"%s must not exceed connect_interval (%s): %s", msg, h.ConnectInterval, tail)
		}
	}
	if t.DeepCheck && t.DeepTimeout > 0 && t.DeepTimeout > h.DeepInterval {
		v.addOnce(v.budgetPath(key, []string{"deep_timeout", "deep_interval"}),
			"deep_timeout (%s) must not exceed deep_interval (%s): %s", t.DeepTimeout, h.DeepInterval, tail)
	}
}

// budgetPath picks where a budget error is reported (see checkProbeBudget).
func (v *validator) budgetPath(key func(string) string, keys []string) string {
	for _, k := range keys {
		if v.written[key(k)] {
			return key(k)
		}
	}
	for _, k := range keys {
		if p := join(healthChecksPath, k); v.written[p] {
			return p
		}
	}
	return join(healthChecksPath, keys[len(keys)-1])
}

// addOnce adds an error unless the same one is already recorded.
func (v *validator) addOnce(path, format string, args ...any) {
	e := Error{Path: path, Line: v.c.Lines.Line(path), Msg: fmt.Sprintf(format, args...)}
	for _, old := range v.errs {
		if old == e {
			return
		}
	}
	v.errs = append(v.errs, e)
}

// defaultTimeout is a left-out timeout's value: its default, or 1/share of
// the interval it runs in when that is shorter (as HAProxy's check timeout
// follows inter when it is not set). With the default 10s interval nothing
// changes.
func defaultTimeout(def, interval time.Duration, share int64) time.Duration {
	if interval <= 0 {
		return def
	}
	return min(def, interval/time.Duration(share))
}
