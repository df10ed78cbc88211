package lua

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Host is what modules share across pooled states and across reloads: the
// daemon makes one and hands it to every Engine it builds, so a reload
// keeps nauthilus_cache's entries and nauthilus_prometheus's series. A nil
// Host (tests, `lua test`) gives each Engine a private one.
//
// Modules keep their process-wide state under their own name (value);
// inputs the daemon provides (a Redis client, a metrics registerer) are
// fields set before the first Engine is built.
type Host struct {
	mu     sync.Mutex
	values map[string]any

	// Registerer is where nauthilus_prometheus registers the scripts'
	// metric vectors (the daemon's /metrics registry); nil gives the Host
	// a private registry (module_prometheus.go).
	Registerer prometheus.Registerer
	// CacheMaxBytes bounds nauthilus_cache; 0 is DefaultCacheMaxBytes.
	CacheMaxBytes int64
	// Now is the modules' clock (cache expiry); nil is time.Now. Tests
	// set it.
	Now func() time.Time
}

// NewHost makes an empty Host.
func NewHost() *Host { return &Host{values: map[string]any{}} }

// value returns the module's process-wide state, made by create on first use.
func (h *Host) value(name string, create func() any) any {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v, ok := h.values[name]; ok {
		return v
	}
	v := create()
	h.values[name] = v
	return v
}

// hostValue is Host.value typed.
func hostValue[T any](h *Host, name string, create func() T) T {
	return h.value(name, func() any { return create() }).(T)
}
