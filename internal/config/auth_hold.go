package config

import "time"

// MaxNoBackendHold bounds auth.nginx.no_backend_hold: nginx arms no client
// timeout while it waits, so the hold is the only limit of a held login,
// and mail clients give up on a silent LOGIN after a minute or two.
const MaxNoBackendHold = 10 * time.Minute

// EffectiveNoBackendHold is no_backend_hold or 0 (off).
func (n Nginx) EffectiveNoBackendHold() time.Duration {
	if n.NoBackendHold == nil {
		return 0
	}
	return *n.NoBackendHold
}

func (c *Config) validateHold(errs *Errors, n Nginx) {
	hold := n.EffectiveNoBackendHold()
	if hold < 0 || hold > MaxNoBackendHold {
		path := "auth.nginx.no_backend_hold"
		errs.Add(path, c.Lines.Line(path), "must be between 0s and %s, got %s", MaxNoBackendHold, hold)
		return
	}
	// nginx asks again at once after WAIT without a wait: a busy loop
	// between nginx and backline for the whole hold.
	if hold > 0 && n.EffectiveNoBackendWait() < 1 {
		path := "auth.nginx.no_backend_wait"
		errs.Add(path, c.Lines.Line(path), "must be at least 1 with no_backend_hold (nginx asks again at once after an Auth-Wait of 0)")
	}
}
