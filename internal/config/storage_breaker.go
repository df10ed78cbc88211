package config

import "time"

// RedisCircuitBreaker is storage.redis.circuit_breaker: when the shared
// Redis client stops failing slowly (every command waiting for its
// timeouts) and starts failing fast, and how it tries Redis again. After
// Parse the fields hold their effective values.
type RedisCircuitBreaker struct {
	// Enabled: nil means true. false sends every command to Redis however
	// dead it is (each waits for dial_timeout / read_timeout).
	Enabled *bool `yaml:"enabled"`
	// ConsecutiveFailures failed commands in a row (no answer in between)
	// open the breaker (HAProxy's fall, Envoy's consecutive_* counters).
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// OpenTime is how long it stays open the first time before one command
	// tries Redis again; each failed try in a row adds OpenTime more
	// (Envoy's base_ejection_time × n), up to MaxOpenTime.
	OpenTime    time.Duration `yaml:"open_time"`
	MaxOpenTime time.Duration `yaml:"max_open_time"`
}

// On reports whether the breaker is enabled.
func (b RedisCircuitBreaker) On() bool { return b.Enabled == nil || *b.Enabled }

// Defaults and limits of storage.redis.circuit_breaker. The defaults are
// the breaker's behaviour before it was configurable: one failure opens
// it, one try a second. open_time is bounded below so that an open breaker
// still spares logins the timeouts, and above so that shared state comes
// back soon after Redis does.
const (
	DefaultRedisBreakerFailures = 1
	DefaultRedisBreakerOpenTime = time.Second
	MaxRedisBreakerFailures     = 1000
	MinRedisBreakerOpenTime     = 10 * time.Millisecond
	MaxRedisBreakerOpenTime     = time.Minute
	MaxRedisBreakerMaxOpenTime  = 10 * time.Minute
)

const redisBreakerPath = redisPath + ".circuit_breaker"

// validateRedisBreaker checks storage.redis.circuit_breaker and fills in
// its defaults; max_open_time defaults to open_time (a fixed period).
func (v *validator) validateRedisBreaker(b *RedisCircuitBreaker) {
	if b.Enabled == nil {
		on := true // written out, so that leaving the key out and writing true compare equal
		b.Enabled = &on
	}
	if !b.On() {
		for _, key := range []string{"consecutive_failures", "open_time", "max_open_time"} {
			if v.written[redisBreakerPath+"."+key] {
				v.add(redisBreakerPath+".enabled", "must be true when other circuit_breaker keys are set (%s)", key)
				break
			}
		}
	}
	const failures = redisBreakerPath + ".consecutive_failures"
	switch {
	case !v.written[failures]:
		b.ConsecutiveFailures = DefaultRedisBreakerFailures
	case b.ConsecutiveFailures < 1 || b.ConsecutiveFailures > MaxRedisBreakerFailures:
		v.add(failures, "must be 1..%d, got %d", MaxRedisBreakerFailures, b.ConsecutiveFailures)
	}
	const openTime = redisBreakerPath + ".open_time"
	if !v.written[openTime] {
		b.OpenTime = DefaultRedisBreakerOpenTime
	} else if !v.durationWithin(openTime, b.OpenTime, MinRedisBreakerOpenTime, MaxRedisBreakerOpenTime) {
		return // max_open_time is checked against a valid open_time only
	}
	const maxOpenTime = redisBreakerPath + ".max_open_time"
	switch {
	case !v.written[maxOpenTime]:
		b.MaxOpenTime = b.OpenTime
	case b.MaxOpenTime < b.OpenTime:
		v.add(maxOpenTime, "must be at least open_time (%s), got %s", formatDuration(b.OpenTime), b.MaxOpenTime)
	case b.MaxOpenTime > MaxRedisBreakerMaxOpenTime:
		v.add(maxOpenTime, "must be at most %s, got %s", formatDuration(MaxRedisBreakerMaxOpenTime), b.MaxOpenTime)
	}
}

// durationWithin reports whether d is in [low, high], adding an error when
// it is not.
func (v *validator) durationWithin(path string, d, low, high time.Duration) bool {
	switch {
	case d < low:
		v.add(path, "must be at least %s, got %s", formatDuration(low), d)
	case d > high:
		v.add(path, "must be at most %s, got %s", formatDuration(high), d)
	default:
		return true
	}
	return false
}
