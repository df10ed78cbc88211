package config

import "time"

// Defaults for keys left out of the file. The health-check values follow
// seed 004 and the contract §4.1 so a Nauthilus file behaves the same here.
const (
	DefaultServerAddress = "127.0.0.1:9080"
	DefaultLogLevel      = "info"
	DefaultLogFormat     = "text"

	DefaultConnectTimeout    = 5 * time.Second
	DefaultTLSTimeout        = 5 * time.Second
	DefaultDeepTimeout       = 5 * time.Second
	DefaultConnectInterval   = 10 * time.Second
	DefaultFailureThreshold  = 1
	DefaultRecoveryThreshold = 1
	DefaultInitialState      = InitialHealthy
	DefaultHAProxyV2Command  = HAProxyCommandLocal

	// maxDefaultJitter caps the derived jitter: spreading a round over more
	// than a second buys nothing and delays the first verdict.
	maxDefaultJitter = time.Second
)

// PROXY v2 commands a health check can send.
const (
	HAProxyCommandLocal = "local"
	HAProxyCommandProxy = "proxy"
)

// applyServerDefaults fills server keys that were left out.
func (c *Config) applyServerDefaults() {
	s := &c.Server
	if s.Address == "" {
		s.Address = DefaultServerAddress
	}
	if s.LogLevel == "" {
		s.LogLevel = DefaultLogLevel
	}
	if s.LogFormat == "" {
		s.LogFormat = DefaultLogFormat
	}
}

// applyHealthCheckDefaults fills the service-wide health-check keys that were
// left out. A key written as 0 counts as written (written tells which) so
// that validation can refuse it instead of silently replacing it; only
// jitter treats an explicit 0 as meaningful ("no jitter").
func (h *HealthChecks) applyDefaults(written func(key string) bool) {
	if h.ConnectInterval == 0 && !written("connect_interval") {
		h.ConnectInterval = DefaultConnectInterval
	}
	if h.DeepInterval == 0 && !written("deep_interval") {
		h.DeepInterval = h.ConnectInterval
	}
	// Connect and TLS timeouts share the connect interval (see checkProbeBudget).
	if h.ConnectTimeout == 0 && !written("connect_timeout") {
		h.ConnectTimeout = defaultTimeout(DefaultConnectTimeout, h.ConnectInterval, 2)
	}
	if h.TLSTimeout == 0 && !written("tls_timeout") {
		h.TLSTimeout = defaultTimeout(DefaultTLSTimeout, h.ConnectInterval, 2)
	}
	if h.DeepTimeout == 0 && !written("deep_timeout") {
		h.DeepTimeout = defaultTimeout(DefaultDeepTimeout, h.DeepInterval, 1)
	}
	if h.FailureThreshold == 0 && !written("failure_threshold") {
		h.FailureThreshold = DefaultFailureThreshold
	}
	if h.RecoveryThreshold == 0 && !written("recovery_threshold") {
		h.RecoveryThreshold = DefaultRecoveryThreshold
	}
	if h.InitialState == "" {
		h.InitialState = DefaultInitialState
	}
	if h.Jitter == 0 && !written("jitter") {
		h.Jitter = DefaultJitter(h.ConnectInterval)
	}
}

// DefaultJitter is 10% of the connect interval, at most one second.
func DefaultJitter(connectInterval time.Duration) time.Duration {
	return min(connectInterval/10, maxDefaultJitter)
}
