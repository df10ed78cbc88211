package config

// Panic modes: what selection does when fewer than below_percent of a
// protocol's configured backends are eligible.
const (
	// PanicFailClosed tempfails (the default): a degraded pool is not
	// handed a load it may not carry.
	PanicFailClosed = "fail_closed"
	// PanicUseAll also selects unhealthy and stale backends (never drained,
	// maintained or weight 0 ones): a wrong health verdict costs less than
	// refusing every login.
	PanicUseAll = "use_all"
)

// Panic is auth.nginx.panic; it applies to the header and json endpoints too.
type Panic struct {
	Mode string `yaml:"mode"` // fail_closed (default) | use_all
	// BelowPercent is the threshold N: panic when eligible backends are
	// fewer than N % of those configured for the protocol. 0 (the default)
	// means only "none eligible" counts, which fail_closed answers anyway.
	BelowPercent *int `yaml:"below_percent"`
}

// EffectiveMode is mode or fail_closed.
func (p Panic) EffectiveMode() string { return orDefault(p.Mode, PanicFailClosed) }

// EffectiveBelowPercent is below_percent or 0.
func (p Panic) EffectiveBelowPercent() int { return intOr(p.BelowPercent, 0) }

func (c *Config) validatePanic(errs *Errors, p Panic) {
	switch p.Mode {
	case "", PanicFailClosed, PanicUseAll:
	default:
		path := "auth.nginx.panic.mode"
		errs.Add(path, c.Lines.Line(path), "unknown panic mode %q (use fail_closed or use_all)", p.Mode)
	}
	if p.BelowPercent != nil && (*p.BelowPercent < 0 || *p.BelowPercent > 100) {
		path := "auth.nginx.panic.below_percent"
		errs.Add(path, c.Lines.Line(path), "must be between 0 and 100, got %d", *p.BelowPercent)
	}
	if p.Mode == PanicUseAll && p.EffectiveBelowPercent() == 0 {
		path := "auth.nginx.panic.below_percent"
		errs.Add(path, c.Lines.Line("auth.nginx.panic"), "must be 1..100 with mode use_all (the share of eligible backends below which all are used)")
	}
}
