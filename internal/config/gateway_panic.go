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

// panicWarnings: a panic_threshold that cannot take effect. On a backend
// whose origins nothing judges (no beta_health, no passive_health) every
// origin stays eligible; with passive health alone, max_ejection_percent
// may keep too many eligible for the share ever to fall below the
// threshold. Only an operator then takes more origins out, and those do
// not count (docs/gateway.md, Panic mode).
func (c *Config) panicWarnings(warn func(path, format string, args ...any)) {
	c.eachBackend(func(path string, b *Backend) {
		t := b.PanicThresholdOf()
		if len(b.Origins) == 0 || t == 0 || b.Health != nil {
			return
		}
		if b.PassiveHealth == nil {
			warn(path+".panic_threshold",
				"panic_threshold has no effect: without beta_health or passive_health every origin counts as eligible (only an operator takes one out, and those stay out in panic too)")
			return
		}
		ejectable, eligible, usable := leastEligibleShare(b)
		if usable > 0 && eligible*100 >= t*usable {
			warn(path+".panic_threshold",
				"panic_threshold %d never triggers on passive health alone: max_ejection_percent %d ejects at most %d of %d origin(s), which leaves at least %d of %d eligible in the tier a pick draws from; without beta_health only an operator takes more out (add beta_health, or raise max_ejection_percent or panic_threshold)",
				t, b.PassiveHealth.MaxEjectionPercent, ejectable, len(b.Origins), eligible, usable)
		}
	})
}

// leastEligibleShare is the lowest share of eligible origins passive
// health alone can bring about in the tier a pick draws from, as
// eligible of usable: every origin is in service (no operator action, the
// configured weights) and at most max_ejection_percent of all origins,
// rounded down, are ejected (health's eject). The tier is chosen as
// health.JudgePanic chooses it: the primaries, unless none of them is
// eligible and a backup is (or no primary is usable). For each number of
// ejected primaries, ejecting as many backups as allowed is the worst
// case: a backup tier with fewer eligible, or, all ejected, primaries
// judged with none eligible. usable is 0 when no origin is usable at all.
func leastEligibleShare(b *Backend) (ejectable, eligible, usable int) {
	ejectable = len(b.Origins) * b.PassiveHealth.MaxEjectionPercent / 100
	var primaries, backups int // usable: weight above 0
	for _, o := range b.Origins {
		switch {
		case o.Weight != nil && *o.Weight == 0:
		case o.Backup:
			backups++
		default:
			primaries++
		}
	}
	for ep := 0; ep <= min(ejectable, primaries); ep++ {
		eb := min(ejectable-ep, backups)
		e, u := primaries-ep, primaries
		if e == 0 && (backups-eb > 0 || primaries == 0) {
			e, u = backups-eb, backups
		}
		if u > 0 && (usable == 0 || e*usable < eligible*u) {
			eligible, usable = e, u
		}
	}
	return ejectable, eligible, usable
}
