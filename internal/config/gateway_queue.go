package config

import "time"

// The queue in front of a backend's max_connections slots (docs/gateway.md,
// Connections). Without a cap and a timer of its own, an overloaded backend
// kept requests waiting until `timeout` (300 s by default) ran out; these
// bound the queue as HAProxy's maxqueue / timeout queue and Envoy's
// max_pending_requests do, so that overload is shed fast with a 503.
const (
	// DefaultBackendMaxQueue is Envoy's max_pending_requests default: far
	// above what a healthy backend ever has waiting, low enough that a
	// stuck one cannot gather an unbounded crowd of goroutines and client
	// connections.
	DefaultBackendMaxQueue = 1024
	// DefaultBackendQueueTimeout ends a wait for a slot after 30 s, well
	// before the 300 s `timeout`: a request that waited that long for a
	// free slot meets a backend serving far below its arrival rate, and
	// its client has usually given up already (HAProxy falls back to its
	// connect timeout, typically 5 s; browsers and load balancers in front
	// commonly wait 30-60 s).
	DefaultBackendQueueTimeout = 30 * time.Second
	// MaxBackendQueue bounds max_queue: beyond it the cap protects nothing,
	// since each waiter holds a client connection.
	MaxBackendQueue = 1_000_000
)

// applyQueueDefaults fills the queue keys left out; an explicit 0 lifts the
// cap or the timer (the behaviour before these keys existed).
func (b *Backend) applyQueueDefaults() {
	if !b.Has("max_queue") {
		b.MaxQueue = DefaultBackendMaxQueue
	}
	if !b.Has("queue_timeout") {
		b.QueueTimeout = DefaultBackendQueueTimeout
	}
}

// validateQueue checks max_queue (queue_timeout is a duration, checked by
// the decoder: never negative).
func (v *gatewayValidator) validateQueue(path string, b *Backend) {
	if b.MaxQueue < 0 || b.MaxQueue > MaxBackendQueue {
		v.add(path+".max_queue", "must be 0..%d (0: no cap), got %d", MaxBackendQueue, b.MaxQueue)
	}
}

// queueWarnings flags queue keys that cannot take effect: without
// max_connections nothing ever waits, and a queue_timeout at or beyond
// `timeout` never fires first (the wait ends with backend_timeout 504).
// Only keys written count: the defaults never warn. Every backend with a
// queue of its own is looked at (eachBackend: inline ones too, those a
// token is fetched through included); refinements cannot set these keys.
func (c *Config) queueWarnings(warn func(path, format string, args ...any)) {
	c.eachBackend(func(path string, b *Backend) {
		if b.MaxConnections == 0 {
			for _, key := range []string{"max_queue", "queue_timeout"} {
				if b.Has(key) {
					warn(path+"."+key, "has no effect without max_connections: requests never wait for a slot")
				}
			}
			return
		}
		if b.Has("queue_timeout") && b.QueueTimeout > 0 && b.Timeout > 0 && b.QueueTimeout >= b.Timeout {
			warn(path+".queue_timeout", "%s is not below timeout %s: a wait for a slot ends with backend_timeout 504 first", b.QueueTimeout, b.Timeout)
		}
	})
}

func proxyRef(e *Endpoint) *BackendRef {
	if e.Proxy == nil {
		return nil
	}
	return &e.Proxy.Backend
}

func requestRef(e *Endpoint) *BackendRef {
	if e.Request == nil {
		return nil
	}
	return &e.Request.Backend
}
