package config

// MaxListenerConnections bounds server.max_connections and
// gateway.max_connections: beyond it the limit protects nothing, since the
// file descriptors run out first on any ordinary system.
const MaxListenerConnections = 1_000_000

// validateListenerLimits checks the connection caps of both listeners. A
// key left out stays 0: the default depends on RLIMIT_NOFILE of the machine
// that serves, which check may not be running on.
func (v *validator) validateListenerLimits() {
	for _, l := range []struct {
		path  string
		value int
	}{
		{"server.max_connections", v.c.Server.MaxConnections},
		{"gateway.max_connections", v.c.Gateway.MaxConnections},
	} {
		if v.written[l.path] && (l.value < 1 || l.value > MaxListenerConnections) {
			v.add(l.path, "must be 1..%d, got %d (leave the key out for the default)", MaxListenerConnections, l.value)
		}
	}
}
