package config

// MaxPanicThreshold is panic_threshold's upper bound: 100 % means "panic
// whenever a single origin is not eligible".
const MaxPanicThreshold = 100

// validatePanicThreshold checks panic_threshold (Envoy's
// healthy_panic_threshold, in percent). It is off unless written: a
// backend's unhealthy origins get no traffic by default, as in Couper,
// Caddy and HAProxy, whose users this follows; docs/gateway.md says why
// backline does not take Envoy's 50 % default.
func (v *gatewayValidator) validatePanicThreshold(path string, b *Backend) {
	if !b.Has("panic_threshold") {
		return
	}
	p := path + ".panic_threshold"
	if !b.Has("origins") {
		v.add(p, "needs origins (panic mode balances over a backend's origins; write a single origin as origins: [<url>])")
	}
	if b.PanicThreshold == nil {
		v.add(p, "must be a number 0..%d (percent)", MaxPanicThreshold)
		return
	}
	if t := *b.PanicThreshold; t < 0 || t > MaxPanicThreshold {
		v.add(p, "must be 0..%d (percent), got %d", MaxPanicThreshold, t)
	}
}

// PanicThresholdOf is a backend's effective panic_threshold (0: off).
func (b *Backend) PanicThresholdOf() int {
	if b == nil || b.PanicThreshold == nil {
		return 0
	}
	return *b.PanicThreshold
}

// panicWarnings: a panic_threshold on a backend whose origins nothing
// judges (no beta_health, no passive_health) never takes effect.
func (c *Config) panicWarnings(warn func(path, format string, args ...any)) {
	for _, label := range c.Definitions.SortedLabels() {
		b := c.Definitions.Backends[label]
		if b == nil || len(b.Origins) == 0 || b.PanicThresholdOf() == 0 {
			continue
		}
		if b.Health == nil && b.PassiveHealth == nil {
			warn("definitions.backends."+label+".panic_threshold",
				"panic_threshold has no effect: without beta_health or passive_health every origin counts as eligible (only an operator takes one out, and those stay out in panic too)")
		}
	}
}
