package config

import (
	"fmt"
	"time"
)

// The wait queue of a backend's throttle (beta_rate_limit / throttle, rules
// in mode wait; docs/gateway.md, beta_rate_limit). Couper queues every
// request a wait rule holds back, without a bound: a flood against a
// throttled backend gathered goroutines, client connections and memory
// until each wait ended. max_queue caps the queue as the max_connections
// queue's key of the same name does; queue_timeout is there for symmetry
// but off by default, since Couper defines what a wait is (until the next
// free period, bounded only by `timeout`).
//
// The keys sit in the rate-limit block because they belong to it (the
// backend's max_queue and queue_timeout are the max_connections queue's).
// A backend's rules share one queue, so each key may be written on one
// rule only.
const (
	// DefaultRateLimitMaxQueue is the slot queue's default (Envoy's
	// max_pending_requests): far above what a throttle that matches its
	// traffic ever holds, low enough that a flood cannot exhaust the
	// daemon. At 100 starts a second it is ten seconds of backlog.
	DefaultRateLimitMaxQueue = DefaultBackendMaxQueue
	// DefaultRateLimitQueueTimeout 0: only `timeout` ends a wait, as in
	// Couper ("the request waits for the next free rate limiting period").
	DefaultRateLimitQueueTimeout = time.Duration(0)
)

// Queue returns the bounds of the throttle's wait queue: the keys written
// on any rule, else the defaults. 0 lifts the cap or the timer.
func (rl RateLimits) Queue() (maxQueue int, queueTimeout time.Duration) {
	maxQueue, queueTimeout = DefaultRateLimitMaxQueue, DefaultRateLimitQueueTimeout
	for _, l := range rl {
		if l.MaxQueue != nil {
			maxQueue = *l.MaxQueue
		}
		if l.QueueTimeout != nil {
			queueTimeout = *l.QueueTimeout
		}
	}
	return maxQueue, queueTimeout
}

// Waits reports whether a rule is mode wait: only those ever queue.
func (rl RateLimits) Waits() bool {
	for _, l := range rl {
		if l.Mode != ModeBlock {
			return true
		}
	}
	return false
}

// rateLimitPath is the key path of a backend's rate-limit block under the
// name it was written with (beta_rate_limit or its alias throttle), so that
// errors name the key the operator wrote and find its line.
func (c *Config) rateLimitPath(backendPath string) string {
	if c.Lines[backendPath+".throttle"] > 0 {
		return backendPath + ".throttle"
	}
	return backendPath + ".beta_rate_limit"
}

// rateLimitRulePath is rule i's path: path[i] in a list, path itself when
// the block was written as a single mapping.
func (c *Config) rateLimitRulePath(path string, n, i int) string {
	p := fmt.Sprintf("%s[%d]", path, i)
	if n == 1 && c.Lines[p] == 0 {
		return path
	}
	return p
}

// validateRateLimitQueue checks rule p's queue keys: max_queue in range
// (queue_timeout is a duration, never negative: the decoder checks it), and
// each key on one rule only; first remembers where each was first written.
func (v *gatewayValidator) validateRateLimitQueue(p string, l *RateLimit, first map[string]string) {
	if l.MaxQueue != nil && (*l.MaxQueue < 0 || *l.MaxQueue > MaxBackendQueue) {
		v.add(p+".max_queue", "must be 0..%d (0: no cap), got %d", MaxBackendQueue, *l.MaxQueue)
	}
	for _, key := range []struct {
		name    string
		written bool
	}{{"max_queue", l.MaxQueue != nil}, {"queue_timeout", l.QueueTimeout != nil}} {
		if !key.written {
			continue
		}
		if at, dup := first[key.name]; dup {
			v.add(p+"."+key.name, "already given at %s (line %d): the rules of a backend share one wait queue, so give it once",
				at, v.c.Lines.Line(at))
			continue
		}
		first[key.name] = p + "." + key.name
	}
}

// rateLimitQueueWarnings flags queue keys that cannot take effect: with
// only mode block rules nothing queues, and a queue_timeout at or beyond
// `timeout` never fires first. Rate limits exist on definitions only.
func (c *Config) rateLimitQueueWarnings(warn func(path, format string, args ...any)) {
	for _, label := range c.Definitions.SortedLabels() {
		b := c.Definitions.Backends[label]
		if b == nil || len(b.RateLimits) == 0 {
			continue
		}
		path := c.rateLimitPath("definitions.backends." + label)
		waits := b.RateLimits.Waits()
		for i, l := range b.RateLimits {
			p := c.rateLimitRulePath(path, len(b.RateLimits), i)
			if !waits {
				for _, key := range []struct {
					name    string
					written bool
				}{{"max_queue", l.MaxQueue != nil}, {"queue_timeout", l.QueueTimeout != nil}} {
					if key.written {
						warn(p+"."+key.name, "has no effect: no rule of this backend is mode wait, so no request queues")
					}
				}
				continue
			}
			if qt := l.QueueTimeout; qt != nil && *qt > 0 && b.Timeout > 0 && *qt >= b.Timeout {
				warn(p+".queue_timeout", "%s is not below timeout %s: a wait for the throttle ends with backend_timeout 504 first", *qt, b.Timeout)
			}
		}
	}
}
