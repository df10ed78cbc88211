package gateway

// compileAuth compiles the oauth2 and beta_token_request blocks of v's
// runtime once (a refinement shares its label's tokens).
func (g *Gateway) compileAuth(c *compiler, v *backendView) {
	rt, b := v.rt, v.cfg
	if rt.authCompiled || b == nil {
		return
	}
	rt.authCompiled = true
	if b.OAuth2 != nil {
		path := b.Path + ".oauth2"
		o, err := g.compileOAuth2(c, path, b.OAuth2)
		if err != nil {
			c.errs.Add(path, c.cfg.Lines.Line(path), "%v", err)
		}
		rt.oauth = o
		if o != nil {
			g.logFetches(o.cache, rt.name, "oauth2")
		}
	}
	for _, t := range b.TokenRequests {
		tr, err := g.compileTokenRequest(c, t)
		if err != nil {
			c.errs.Add(t.Path, c.cfg.Lines.Line(t.Path), "%v", err)
			continue
		}
		g.logFetches(tr.cache, rt.name, "beta_token_request."+tr.name)
		rt.tokenRequests = append(rt.tokenRequests, tr)
	}
}
