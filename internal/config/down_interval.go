package config

import (
	"fmt"
	"time"
)

// MaxDownInterval is the longest down_interval, that of connect_interval
// and deep_interval.
const MaxDownInterval = 24 * time.Hour

// checkDownInterval validates down_interval at path: 0 (or left out) keeps
// the normal intervals; otherwise MinFastInterval..MaxDownInterval. It may
// be shorter than the interval (find a recovered backend sooner) or longer
// (probe a dead one less), as HAProxy's downinter, so it is not compared
// with it.
func checkDownInterval(add func(path, format string, args ...any), path string, d time.Duration) {
	switch {
	case d == 0:
	case d < 0: // the decoder refuses negative durations; kept for other callers
		add(path, "must not be negative, got %s", d)
	case d < MinFastInterval:
		// Down probes go through the requested-probe path, as fast ones.
		add(path, "must be at least %s, got %s (a backend gets at most one requested probe per second)", formatDuration(MinFastInterval), d)
	case d > MaxDownInterval:
		add(path, "must be at most %s, got %s", formatDuration(MaxDownInterval), d)
	}
}

// downIntervalWarning says why a valid down_interval does not do what it
// likely should, or "". connect and deep are the normal intervals (equal
// for beta_health).
func downIntervalWarning(down, fast, connect, deep time.Duration, recoveries int) string {
	switch {
	case down <= 0:
		return ""
	case down == connect && down == deep:
		return fmt.Sprintf("has no effect: it equals the interval (%s)", down)
	case down < min(connect, deep) && recoveries > 1 && (fast <= 0 || fast > down):
		// HAProxy's trap too: after the first good probe the backend is
		// part-way up, which fastinter (or else inter) paces, not downinter.
		next, every := "the interval", min(connect, deep)
		if fast > 0 {
			next, every = "fast_interval", fast
		}
		return fmt.Sprintf("finds a recovered backend sooner, but with recovery_threshold %d the successes after the first come at %s (%s), not at down_interval: set fast_interval to at most %s", recoveries, next, every, down)
	}
	return ""
}
