package config

import (
	"strings"
	"testing"
	"time"
)

// queueYAML puts body at line 5.
func TestRateLimitQueueDefaults(t *testing.T) {
	b := mustParse(t, queueYAML("beta_rate_limit:\n  period: 1s\n  per_period: 1\n")).Definitions.Backends["api"]
	if q, qt := b.RateLimits.Queue(); q != DefaultRateLimitMaxQueue || qt != 0 {
		t.Fatalf("max_queue %d queue_timeout %s, want %d and 0 (only timeout ends a wait)", q, qt, DefaultRateLimitMaxQueue)
	}
	// The backend's own keys bound the max_connections queue, not this one.
	b = mustParse(t, queueYAML("max_connections: 1\nmax_queue: 3\nbeta_rate_limit:\n  period: 1s\n  per_period: 1\n")).Definitions.Backends["api"]
	if q, _ := b.RateLimits.Queue(); q != DefaultRateLimitMaxQueue {
		t.Fatalf("backend max_queue leaked into the throttle: %d", q)
	}
	// Written on any one rule, they bound the backend's one queue; 0 lifts
	// the cap.
	b = mustParse(t, queueYAML(`throttle:
  - period: 1s
    per_period: 5
  - period: 1m
    per_period: 100
    max_queue: 0
    queue_timeout: 2.5
`)).Definitions.Backends["api"]
	if q, qt := b.RateLimits.Queue(); q != 0 || qt != 2500*time.Millisecond {
		t.Fatalf("max_queue %d queue_timeout %s, want 0 and 2.5s", q, qt)
	}
}

func TestRateLimitQueueErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"beta_rate_limit:\n  period: 1s\n  per_period: 1\n  max_queue: -1\n",
			"definitions.backends.api.beta_rate_limit.max_queue (line 8): must be 0..1000000 (0: no cap), got -1"},
		{"throttle:\n  period: 1s\n  per_period: 1\n  max_queue: 1000001\n",
			"definitions.backends.api.throttle.max_queue (line 8): must be 0..1000000 (0: no cap), got 1000001"},
		{"throttle:\n  - period: 1s\n    per_period: 1\n    max_queue: 5\n  - period: 1m\n    per_period: 9\n    max_queue: 5\n",
			"definitions.backends.api.throttle[1].max_queue (line 11): already given at definitions.backends.api.throttle[0].max_queue (line 8): the rules of a backend share one wait queue"},
		{"beta_rate_limit:\n  - period: 1s\n    per_period: 1\n    queue_timeout: 1s\n  - period: 1m\n    per_period: 9\n    queue_timeout: 2s\n",
			"definitions.backends.api.beta_rate_limit[1].queue_timeout (line 11): already given at definitions.backends.api.beta_rate_limit[0].queue_timeout (line 8)"},
		// Refused by the decoder, which names key and line.
		{"throttle:\n  period: 1s\n  per_period: 1\n  max_queue: lots\n", "definitions.backends.api.throttle.max_queue (line 8)"},
		{"throttle:\n  period: 1s\n  per_period: 1\n  max_queue: 99999999999999999999999\n", "definitions.backends.api.throttle.max_queue (line 8)"},
		{"throttle:\n  period: 1s\n  per_period: 1\n  max_queue: [1]\n", "definitions.backends.api.throttle.max_queue (line 8)"},
		{"throttle:\n  period: 1s\n  per_period: 1\n  queue_timeout: -1s\n", "definitions.backends.api.throttle.queue_timeout (line 8)"},
		{"throttle:\n  period: 1s\n  per_period: 1\n  queue_timeout: soon\n", "definitions.backends.api.throttle.queue_timeout (line 8)"},
		// The rule paths follow the name written (they said beta_rate_limit
		// and the backend's line before).
		{"throttle:\n  period: 0s\n  per_period: 1\n", "definitions.backends.api.throttle.period (line 6): 'period' must be greater than 0"},
	} {
		got := strings.Join(parseErrors(t, queueYAML(tc.body)), "\n")
		if !strings.Contains(got, tc.want) {
			t.Errorf("%q:\n got %s\nwant %s", tc.body, got, tc.want)
		}
	}
}

// On inline backends and refinements the whole block is refused, its queue
// keys with it.
func TestRateLimitQueueInlineRefused(t *testing.T) {
	yml := `gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /x
      proxy:
        backend:
          origin: http://127.0.0.1:1
          throttle:
            period: 1s
            per_period: 1
            max_queue: 3
`
	if got := strings.Join(parseErrors(t, yml), "\n"); !strings.Contains(got, "anonymous backend cannot define 'throttle'") {
		t.Fatalf("errors: %s", got)
	}
}

func TestRateLimitQueueWarnings(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"throttle:\n  period: 1s\n  per_period: 1\n  mode: block\n  max_queue: 5\n",
			"definitions.backends.api.throttle.max_queue (line 9): has no effect: no rule of this backend is mode wait"},
		{"throttle:\n  - period: 1s\n    per_period: 1\n    mode: block\n    queue_timeout: 5s\n",
			"definitions.backends.api.throttle[0].queue_timeout (line 9): has no effect"},
		{"timeout: 10s\nbeta_rate_limit:\n  period: 1s\n  per_period: 1\n  queue_timeout: 10s\n",
			"definitions.backends.api.beta_rate_limit.queue_timeout (line 9): 10s is not below timeout 10s"},
		// A wait rule next to a block rule queues: no warning.
		{"throttle:\n  - period: 1s\n    per_period: 1\n    mode: block\n    max_queue: 5\n  - period: 1m\n    per_period: 10\n", ""},
		{"timeout: 10s\nthrottle:\n  period: 1s\n  per_period: 1\n  queue_timeout: 0\n", ""},
		{"throttle:\n  period: 1s\n  per_period: 1\n  mode: block\n", ""}, // defaults never warn
	} {
		got := strings.Join(mustParse(t, queueYAML(tc.body)).Warnings(), "\n")
		switch {
		case tc.want == "" && strings.Contains(got, "queue"):
			t.Errorf("%q: unexpected warning: %s", tc.body, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%q: warnings lack %q: %s", tc.body, tc.want, got)
		}
	}
}
