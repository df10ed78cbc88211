package config

// eachBackend calls fn with every backend the configuration defines, with
// its key path: the definitions backends, then the inline backends (a
// backend mapping without label) of endpoints and of token fetches
// (oauth2, beta_token_request), nested ones too. Refinements are left out:
// they may not set the balancing keys the warnings look at. Warnings that
// apply to a backend's own keys go through it, so an inline backend is
// warned about as a definitions backend is.
func (c *Config) eachBackend(fn func(path string, b *Backend)) {
	var inline func(r *BackendRef)
	inner := func(b *Backend) {
		for _, r := range b.tokenRefs() {
			inline(r)
		}
	}
	inline = func(r *BackendRef) {
		if r == nil || r.Inline == nil || r.Label != "" {
			return
		}
		fn(r.Path, r.Inline)
		inner(r.Inline)
	}
	for _, label := range c.Definitions.SortedLabels() {
		if b := c.Definitions.Backends[label]; b != nil {
			fn("definitions.backends."+label, b)
			inner(b)
		}
	}
	for i := range c.Gateway.Endpoints {
		e := &c.Gateway.Endpoints[i]
		inline(proxyRef(e))
		inline(requestRef(e))
	}
}
