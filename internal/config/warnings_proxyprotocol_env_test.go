package config

import (
	"strings"
	"testing"
)

// proxyProtocolEnvYAML is a gateway whose backend api sends proxy_protocol
// to its origin (line 5), whose backend tls sends it to its https origins
// (lines 9 and 10), and with an endpoint giving an origin-less inline
// backend its url (line 16).
const proxyProtocolEnvYAML = `definitions:
  backends:
    api:
      proxy_protocol: v2
      origin: http://origin.example:8080
    tls:
      proxy_protocol: v1
      origins:
        - https://other.example
        - https://127.0.0.1:8443
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /u
      proxy:
        url: http://byurl.example/u
        backend:
          proxy_protocol: v1
`

func proxyProtocolEnvWarningsWith(t *testing.T, yml string, env map[string]string) string {
	t.Helper()
	getenv = func(name string) string { return env[name] }
	defer func() { getenv = osGetenv }()
	return strings.Join(mustParse(t, yml).Warnings(), "\n")
}

// An environment proxy that applies to an origin of a proxy_protocol
// backend is warned about at the origin's key, naming the variable and
// NO_PROXY; NO_PROXY, loopback origins, backends without proxy_protocol
// and an empty environment are not.
func TestProxyProtocolEnvProxyWarning(t *testing.T) {
	got := proxyProtocolEnvWarningsWith(t, proxyProtocolEnvYAML, map[string]string{
		"http_proxy":  "http://proxy.example:3128",
		"HTTPS_PROXY": "http://proxy.example:3128",
	})
	for _, want := range []string{
		"definitions.backends.api.origin (line 5): proxy_protocol: http_proxy in the environment applies to origin.example:8080",
		"add origin.example to NO_PROXY",
		"definitions.backends.tls.origins[0] (line 9): proxy_protocol: HTTPS_PROXY in the environment applies to other.example",
		"gateway.endpoints[0].proxy.url (line 16): proxy_protocol: http_proxy in the environment applies to byurl.example",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "proxy_protocol: "); n != 3 {
		t.Errorf("%d proxy_protocol warnings, want 3:\n%s", n, got)
	}

	// Exempt by NO_PROXY (either spelling, a domain suffix too).
	got = proxyProtocolEnvWarningsWith(t, proxyProtocolEnvYAML, map[string]string{
		"HTTP_PROXY": "http://proxy.example:3128", "HTTPS_PROXY": "http://proxy.example:3128",
		"no_proxy": ".example",
	})
	if strings.Contains(got, "proxy_protocol: ") {
		t.Errorf("warned despite no_proxy:\n%s", got)
	}
	// Only HTTPS_PROXY: the http origins are not reached through it.
	got = proxyProtocolEnvWarningsWith(t, proxyProtocolEnvYAML, map[string]string{"HTTPS_PROXY": "http://proxy.example:3128"})
	if n := strings.Count(got, "proxy_protocol: "); n != 1 || !strings.Contains(got, "other.example") {
		t.Errorf("HTTPS_PROXY only: %d warnings, want the https origin's:\n%s", n, got)
	}
	// Loopback origins never go through the environment's proxy.
	loopback := strings.NewReplacer("origin.example", "127.0.0.1", "other.example", "localhost", "byurl.example", "[::1]").Replace(proxyProtocolEnvYAML)
	got = proxyProtocolEnvWarningsWith(t, loopback, map[string]string{"HTTP_PROXY": "http://proxy.example:3128", "HTTPS_PROXY": "http://proxy.example:3128"})
	if strings.Contains(got, "proxy_protocol: ") {
		t.Errorf("warned about loopback origins:\n%s", got)
	}
	// Without proxy_protocol the proxy simply applies.
	plain := strings.NewReplacer("      proxy_protocol: v2\n", "", "      proxy_protocol: v1\n", "", "          proxy_protocol: v1\n", "          path: /x\n").Replace(proxyProtocolEnvYAML)
	got = proxyProtocolEnvWarningsWith(t, plain, map[string]string{"HTTP_PROXY": "http://proxy.example:3128", "HTTPS_PROXY": "http://proxy.example:3128"})
	if strings.Contains(got, "proxy_protocol: ") {
		t.Errorf("warned without proxy_protocol:\n%s", got)
	}
	if got := proxyProtocolEnvWarningsWith(t, proxyProtocolEnvYAML, nil); strings.Contains(got, "proxy_protocol: ") {
		t.Errorf("warned without a proxy in the environment:\n%s", got)
	}
}
