package config

import (
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpproxy"
)

// envVar is an environment variable as read: which spelling was set, and
// its value ("" and the first spelling when none was).
type envVar struct{ name, value string }

// firstEnv is the first of names that is set, as net/http reads
// HTTP_PROXY before http_proxy.
func firstEnv(names ...string) envVar {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return envVar{n, v}
		}
	}
	return envVar{name: names[0]}
}

// proxyProtocolEnvWarnings warns about an origin of a backend with
// proxy_protocol that a forward proxy from the environment (HTTP_PROXY,
// HTTPS_PROXY) applies to: the gateway refuses each request to it with a
// configuration error (500) rather than hand the PROXY header to the
// proxy, while the backend's health checks, which do not go through a
// proxy, stay green. The rules are net/http's (it uses golang.org/x/net's
// httpproxy): NO_PROXY and loopback origins are exempt. An origin decided
// per request (a template) cannot be judged here. Origins are the
// backends' origin and origins, and the url of an endpoint or a token
// fetch (oauth2 token_endpoint, beta_token_request) whose backend has none.
func (c *Config) proxyProtocolEnvWarnings(warn func(path, format string, args ...any)) {
	if c.Gateway.Address == "" {
		return
	}
	httpProxy, httpsProxy := firstEnv("HTTP_PROXY", "http_proxy"), firstEnv("HTTPS_PROXY", "https_proxy")
	noProxy := firstEnv("NO_PROXY", "no_proxy")
	if httpProxy.value == "" && httpsProxy.value == "" {
		return
	}
	proxyFor := (&httpproxy.Config{HTTPProxy: httpProxy.value, HTTPSProxy: httpsProxy.value, NoProxy: noProxy.value}).ProxyFunc()
	check := func(path, origin string) {
		if origin == "" || strings.Contains(origin, "${") {
			return
		}
		u, err := url.Parse(origin)
		if err != nil || u.Hostname() == "" {
			return // an error of its own
		}
		if p, err := proxyFor(u); err != nil || p == nil {
			return
		}
		name := httpProxy.name
		if u.Scheme == "https" {
			name = httpsProxy.name
		}
		warn(path, "proxy_protocol: %s in the environment applies to %s, and a forward proxy cannot carry the PROXY header: the gateway refuses every request to this origin (500), though health checks, which do not go through the proxy, pass; add %s to %s",
			name, u.Host, u.Hostname(), noProxy.name)
	}
	c.eachBackend(func(path string, b *Backend) {
		// A token fetch through an origin-less backend takes its origin
		// from the token URL, as an endpoint's request does from its url.
		if b.OAuth2 != nil && c.urlIsOrigin(&b.OAuth2.Backend) {
			check(path+".oauth2.token_endpoint", b.OAuth2.TokenEndpoint)
		}
		for _, t := range b.TokenRequests {
			if t != nil && c.urlIsOrigin(&t.Backend) {
				check(t.Path+".url", t.URL)
			}
		}
		if b.ProxyProtocol == "" {
			return
		}
		check(path+".origin", b.Origin)
		for i, o := range b.Origins {
			check(fmt.Sprintf("%s.origins[%d]", path, i), o.Origin)
		}
	})
	for i := range c.Gateway.Endpoints {
		e := &c.Gateway.Endpoints[i]
		path := fmt.Sprintf("gateway.endpoints[%d]", i)
		if e.Proxy != nil && c.urlIsOrigin(&e.Proxy.Backend) {
			check(path+".proxy.url", e.Proxy.URL)
		}
		if e.Request != nil && c.urlIsOrigin(&e.Request.Backend) {
			check(path+".request.url", e.Request.URL)
		}
	}
}

// urlIsOrigin: the endpoint's url names the origin of r's backend, which
// sends proxy_protocol and has no origin of its own (a refinement's origin
// must equal its label's, so the label decides).
func (c *Config) urlIsOrigin(r *BackendRef) bool {
	b := r.Inline // an inline backend
	if r.Label != "" {
		b = c.Definitions.Backends[r.Label]
	}
	return b != nil && b.ProxyProtocol != "" && b.Origin == "" && !b.HasSeveralOrigins()
}
