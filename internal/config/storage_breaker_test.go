package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const breakerRedis = "primary:\n  address: 127.0.0.1:6379\n" // lines 3-4

// Left out, the breaker keeps its behaviour from before it was
// configurable: on, one failure, a fixed one-second period.
func TestRedisBreakerDefaults(t *testing.T) {
	for _, body := range []string{breakerRedis, breakerRedis + "circuit_breaker: {}\n", breakerRedis + "circuit_breaker:\n  enabled: true\n"} {
		b := mustParse(t, redisBlock(body)).Storage.Redis.CircuitBreaker
		if !b.On() || b.ConsecutiveFailures != 1 || b.OpenTime != time.Second || b.MaxOpenTime != time.Second {
			t.Errorf("%q: %+v (on %v)", body, b, b.On())
		}
	}
}

func TestRedisBreakerSettingsParsed(t *testing.T) {
	b := mustParse(t, redisBlock(breakerRedis+`circuit_breaker:
  consecutive_failures: 3
  open_time: 500ms
  max_open_time: 30s
`)).Storage.Redis.CircuitBreaker
	if !b.On() || b.ConsecutiveFailures != 3 || b.OpenTime != 500*time.Millisecond || b.MaxOpenTime != 30*time.Second {
		t.Errorf("%+v", b)
	}
	// open_time alone: a fixed period of that length (max follows it).
	b = mustParse(t, redisBlock(breakerRedis+"circuit_breaker:\n  open_time: 2\n")).Storage.Redis.CircuitBreaker
	if b.OpenTime != 2*time.Second || b.MaxOpenTime != 2*time.Second {
		t.Errorf("open_time alone: %+v", b)
	}
	b = mustParse(t, redisBlock(breakerRedis+"circuit_breaker:\n  enabled: false\n")).Storage.Redis.CircuitBreaker
	if b.On() {
		t.Errorf("enabled: false is on: %+v", b)
	}
}

// Every bad value names its key path and line; values that overflow or
// are of the wrong kind are refused, never wrapped.
func TestRedisBreakerErrors(t *testing.T) {
	const bp = "storage.redis.circuit_breaker."
	for _, c := range []struct{ body, want string }{
		{"circuit_breaker:\n  consecutive_failures: 0\n", bp + "consecutive_failures (line 6): must be 1..1000, got 0"},
		{"circuit_breaker:\n  consecutive_failures: -3\n", bp + "consecutive_failures (line 6): must be 1..1000, got -3"},
		{"circuit_breaker:\n  consecutive_failures: 1001\n", bp + "consecutive_failures (line 6): must be 1..1000, got 1001"},
		{"circuit_breaker:\n  consecutive_failures: 99999999999999999999\n", bp + "consecutive_failures (line 6): "},
		{"circuit_breaker:\n  consecutive_failures: three\n", bp + "consecutive_failures (line 6): "},
		{"circuit_breaker:\n  open_time: 0s\n", bp + "open_time (line 6): must be at least 10ms, got 0s"},
		{"circuit_breaker:\n  open_time: -1s\n", bp + "open_time (line 6): "},
		{"circuit_breaker:\n  open_time: 5ms\n", bp + "open_time (line 6): must be at least 10ms, got 5ms"},
		{"circuit_breaker:\n  open_time: 61s\n", bp + "open_time (line 6): must be at most 1m, got 1m1s"},
		{"circuit_breaker:\n  open_time: 9999999999h\n", bp + "open_time (line 6): "},
		{"circuit_breaker:\n  open_time: \"1s\\u0000\"\n", bp + "open_time (line 6): "},
		{"circuit_breaker:\n  open_time: 5s\n  max_open_time: 2s\n", bp + "max_open_time (line 7): must be at least open_time (5s), got 2s"},
		{"circuit_breaker:\n  max_open_time: 500ms\n", bp + "max_open_time (line 6): must be at least open_time (1s), got 500ms"},
		{"circuit_breaker:\n  max_open_time: 11m\n", bp + "max_open_time (line 6): must be at most 10m, got 11m0s"},
		{"circuit_breaker:\n  enabled: false\n  open_time: 2s\n", bp + "enabled (line 6): must be true when other circuit_breaker keys are set (open_time)"},
		{"circuit_breaker:\n  enabled: maybe\n", bp + "enabled (line 6): "},
		{"circuit_breaker:\n  open_time: 1s\n  open_time: 2s\n", bp + "open_time (line 7): "},
		{"circuit_breaker:\n  threshold: 3\n", bp + "threshold (line 6): "},
		{"circuit_breaker: 5\n", "storage.redis.circuit_breaker (line 5): "},
	} {
		got := parseErrors(t, redisBlock(breakerRedis+c.body))
		if !slices.ContainsFunc(got, func(g string) bool {
			return g == c.want || strings.HasSuffix(c.want, " ") && strings.HasPrefix(g, c.want)
		}) {
			t.Errorf("missing error\n want: %s\n got:  %q\ninput:\n%s", c.want, got, c.body)
		}
	}
}

// Only one error for a bad open_time: max_open_time is not compared with
// a value that was refused.
func TestRedisBreakerBadOpenTimeOneError(t *testing.T) {
	got := parseErrors(t, redisBlock(breakerRedis+"circuit_breaker:\n  open_time: 2m\n  max_open_time: 90s\n"))
	if len(got) != 1 || !strings.Contains(got[0], "open_time (line 6)") {
		t.Errorf("errors %q, want only open_time's", got)
	}
}
