package config

import (
	"fmt"
	"time"
)

// MinFastInterval is the shortest fast_interval: the health engine starts at
// most one requested probe per backend per second (health.RecheckInterval),
// and fast re-checks go through that path, so a shorter one could not run.
const MinFastInterval = time.Second

// checkFastInterval validates fast_interval at path against the interval
// (or intervals) it shortens: 0 (or left out) is off; otherwise
// MinFastInterval..the shortest normal interval, since a "fast" re-check
// later than the regular one would be a slow one. bounds are key, value
// pairs of the normal intervals; one that failed its own checks (<= 0) is
// skipped, its error is reported already.
func checkFastInterval(add func(path, format string, args ...any), path string, d time.Duration, bounds ...boundInterval) {
	switch {
	case d == 0:
		return
	case d < 0: // the decoder refuses negative durations; kept for other callers
		add(path, "must not be negative, got %s", d)
		return
	case d < MinFastInterval:
		add(path, "must be at least %s, got %s (a backend gets at most one requested probe per second)", formatDuration(MinFastInterval), d)
		return
	}
	for _, b := range bounds {
		if b.value > 0 && d > b.value {
			add(path, "must be at most %s (%s), got %s", b.key, b.value, d)
			return
		}
	}
}

// boundInterval is one normal interval a fast_interval must not exceed.
type boundInterval struct {
	key   string
	value time.Duration
}

// fastIntervalWarning says why a valid fast_interval changes nothing, or "".
func fastIntervalWarning(fast, interval time.Duration, failures, recoveries int) string {
	switch {
	case fast <= 0:
		return ""
	case failures <= 1 && recoveries <= 1:
		return "has no effect with failure_threshold and recovery_threshold 1: every result flips the state at once, so there is never a streak to shorten"
	case fast >= interval:
		return fmt.Sprintf("has no effect: it equals the interval (%s)", interval)
	}
	return ""
}
