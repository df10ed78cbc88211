package config

// eachRefinement calls fn with every refinement (a backend mapping with a
// label) the configuration writes, with its key path and the definitions
// backend it refines: those of endpoints and those of token fetches
// (oauth2, beta_token_request) in definitions and inline backends. A label
// that is not defined is left out: validation reports it.
func (c *Config) eachRefinement(fn func(path, label string, def, r *Backend)) {
	visit := func(ref *BackendRef) {
		if ref == nil || ref.Inline == nil || ref.Label == "" {
			return
		}
		if def := c.Definitions.Backends[ref.Label]; def != nil {
			fn(ref.Path, ref.Label, def, ref.Inline)
		}
	}
	c.eachBackend(func(_ string, b *Backend) {
		for _, r := range b.tokenRefs() {
			visit(r)
		}
	})
	for i := range c.Gateway.Endpoints {
		e := &c.Gateway.Endpoints[i]
		visit(proxyRef(e))
		visit(requestRef(e))
	}
}

// refinementQueueWarnings flags a refinement whose timeout is not above a
// queue_timeout of the backend it refines. The queues belong to the label
// (a refinement cannot set their keys), but the wait counts against the
// refinement's own timeout: requests through it never reach the
// queue_timeout and end with backend_timeout 504 instead of a 503 with
// Retry-After. Only queue_timeouts written count, as on the label.
func (c *Config) refinementQueueWarnings(warn func(path, format string, args ...any)) {
	c.eachRefinement(func(path, label string, def, r *Backend) {
		if !r.Has("timeout") || r.Timeout <= 0 {
			return
		}
		key := path + ".timeout"
		defPath := "definitions.backends." + label
		if def.MaxConnections > 0 && def.Has("queue_timeout") && def.QueueTimeout > 0 && def.QueueTimeout >= r.Timeout {
			warn(key, "%s is not above queue_timeout %s of %s: a wait for a slot through this reference ends with backend_timeout 504 first",
				r.Timeout, def.QueueTimeout, defPath)
		}
		if len(def.RateLimits) == 0 || !def.RateLimits.Waits() {
			return
		}
		for i, l := range def.RateLimits {
			if qt := l.QueueTimeout; qt != nil && *qt > 0 && *qt >= r.Timeout {
				rule := c.rateLimitRulePath(c.rateLimitPath(defPath), len(def.RateLimits), i)
				warn(key, "%s is not above %s.queue_timeout %s: a wait for the throttle through this reference ends with backend_timeout 504 first",
					r.Timeout, rule, *qt)
			}
		}
	})
}
