package config

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// proxyEnvNamesAll are every spelling net/http reads; the oracle below
// starts from an environment without any of them.
var proxyEnvNamesAll = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"}

// TestHelperNetHTTPProxyOracle is not a test: run as a child process with
// BACKLINE_PROXY_ORACLE_URL set, it prints whether net/http's own
// ProxyFromEnvironment (which reads the environment once per process)
// sends a request to that URL through a proxy.
func TestHelperNetHTTPProxyOracle(t *testing.T) {
	raw := os.Getenv("BACKLINE_PROXY_ORACLE_URL")
	if raw == "" {
		t.Skip("helper process only")
	}
	u, err := url.Parse(raw)
	if err != nil {
		fmt.Println("ORACLE=error")
		return
	}
	p, err := http.ProxyFromEnvironment(&http.Request{URL: u})
	switch {
	case err != nil:
		fmt.Println("ORACLE=error")
	case p != nil:
		fmt.Println("ORACLE=proxy")
	default:
		fmt.Println("ORACLE=direct")
	}
}

// netHTTPProxies runs the oracle under env: true when net/http would hand
// a request to origin to a proxy from the environment.
func netHTTPProxies(t *testing.T, env map[string]string, origin string) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNetHTTPProxyOracle$", "-test.count=1")
	var keep []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range proxyEnvNamesAll {
			drop = drop || n == name
		}
		if !drop {
			keep = append(keep, kv)
		}
	}
	for k, v := range env {
		keep = append(keep, k+"="+v)
	}
	cmd.Env = append(keep, "BACKLINE_PROXY_ORACLE_URL="+origin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("oracle: %v\n%s", err, out)
	}
	switch {
	case strings.Contains(string(out), "ORACLE=proxy"):
		return true
	case strings.Contains(string(out), "ORACLE=direct"):
		return false
	}
	t.Fatalf("oracle said:\n%s", out)
	return false
}

// oneOriginYAML is a proxy_protocol backend whose origin is on line 5.
func oneOriginYAML(origin string) string {
	return `definitions:
  backends:
    api:
      proxy_protocol: v2
      origin: ` + origin + `
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /u
      proxy:
        backend: api
`
}

// The warning fires exactly when net/http itself (Go's own
// ProxyFromEnvironment, run in a child process with that environment)
// would send the origin's requests to a proxy: both spellings of each
// variable and which one wins, and the NO_PROXY forms (suffix, leading
// dot, "*.", host:port, CIDR, IP, "*", upper case, spaces).
func TestProxyProtocolEnvWarningAgreesWithNetHTTP(t *testing.T) {
	const proxy = "http://proxy.example:3128"
	cases := []struct {
		name   string
		env    map[string]string
		origin string
	}{
		{"upper HTTP_PROXY", map[string]string{"HTTP_PROXY": proxy}, "http://origin.example:8080"},
		{"lower http_proxy", map[string]string{"http_proxy": proxy}, "http://origin.example:8080"},
		{"http proxy for an https origin", map[string]string{"HTTP_PROXY": proxy}, "https://origin.example"},
		{"https proxy for an http origin", map[string]string{"HTTPS_PROXY": proxy}, "http://origin.example"},
		{"lower https_proxy", map[string]string{"https_proxy": proxy}, "https://origin.example"},
		{"upper NO_PROXY over lower no_proxy", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": "other.example", "no_proxy": "origin.example"}, "http://origin.example:8080"},
		{"lower no_proxy over upper NO_PROXY", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": "origin.example", "no_proxy": "other.example"}, "http://origin.example:8080"},
		{"empty NO_PROXY falls to no_proxy", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": "", "no_proxy": "origin.example"}, "http://origin.example:8080"},
		{"bare suffix", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": "example"}, "http://origin.example:8080"},
		{"dot suffix", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": ".example"}, "http://origin.example:8080"},
		{"star dot suffix", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": "*.example"}, "http://origin.example:8080"},
		{"dot suffix does not match itself", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": ".origin.example"}, "http://origin.example:8080"},
		{"host and port", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": "origin.example:8080"}, "http://origin.example:8080"},
		{"host and another port", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": "origin.example:9090"}, "http://origin.example:8080"},
		{"host and the default port", map[string]string{"HTTPS_PROXY": proxy, "NO_PROXY": "origin.example:443"}, "https://origin.example"},
		{"CIDR", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": "10.0.0.0/8"}, "http://10.1.2.3:8080"},
		{"CIDR that misses", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": "192.168.0.0/16"}, "http://10.1.2.3:8080"},
		{"IPv6 with port", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": "[2001:db8::5]:8080"}, "http://[2001:db8::5]:8080"},
		{"IPv6 CIDR", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": "2001:db8::/32"}, "http://[2001:db8::5]:8080"},
		{"star", map[string]string{"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "NO_PROXY": "*"}, "https://origin.example"},
		{"upper case and spaces", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": " other.example , ORIGIN.EXAMPLE "}, "http://origin.example:8080"},
		{"upper case origin host", map[string]string{"HTTP_PROXY": proxy, "NO_PROXY": "origin.example"}, "http://Origin.Example:8080"},
		{"localhost", map[string]string{"HTTP_PROXY": proxy}, "http://localhost:8080"},
		{"loopback v4 not 127.0.0.1", map[string]string{"HTTP_PROXY": proxy}, "http://127.8.9.10:8080"},
		{"proxy without a scheme", map[string]string{"HTTP_PROXY": "proxy.example:3128"}, "http://origin.example:8080"},
		{"proxy that does not parse", map[string]string{"HTTP_PROXY": "http://u:p w@proxy.example:3128"}, "http://origin.example:8080"},
		{"only NO_PROXY", map[string]string{"NO_PROXY": "other.example"}, "http://origin.example:8080"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := netHTTPProxies(t, tc.env, tc.origin)
			got := proxyProtocolEnvWarningsWith(t, oneOriginYAML(tc.origin), tc.env)
			warned := strings.Contains(got, "definitions.backends.api.origin (line 5): proxy_protocol: ")
			if warned != want {
				t.Errorf("env %v, origin %s: net/http proxies %v, warned %v:\n%s", tc.env, tc.origin, want, warned, got)
			}
		})
	}
}

// The warning names the spelling net/http took, of the proxy variable and
// of NO_PROXY: with both spellings set, the upper-case one (Go 1.26's
// net/http reads HTTP_PROXY before http_proxy, unlike curl).
func TestProxyProtocolEnvWarningNamesTheSpellingInUse(t *testing.T) {
	got := proxyProtocolEnvWarningsWith(t, oneOriginYAML("http://origin.example:8080"), map[string]string{
		"HTTP_PROXY": "http://proxy.example:3128", "http_proxy": "http://other-proxy.example:3128",
		"NO_PROXY": "a.example", "no_proxy": "b.example",
	})
	if !strings.Contains(got, "proxy_protocol: HTTP_PROXY in the environment") || !strings.Contains(got, "add origin.example to NO_PROXY") {
		t.Errorf("both spellings set: %s", got)
	}
	got = proxyProtocolEnvWarningsWith(t, oneOriginYAML("http://origin.example:8080"), map[string]string{
		"HTTP_PROXY": "", "http_proxy": "http://proxy.example:3128", "no_proxy": "b.example",
	})
	if !strings.Contains(got, "proxy_protocol: http_proxy in the environment") || !strings.Contains(got, "add origin.example to no_proxy") {
		t.Errorf("lower case only: %s", got)
	}
}

// No password of the environment's proxy or of an origin's user info
// reaches a warning, whatever the form of the value.
func TestProxyProtocolEnvWarningKeepsPasswordsOut(t *testing.T) {
	const secret = "S3cretPW"
	yml := strings.Replace(proxyProtocolEnvYAML, "http://origin.example:8080", "http://ouser:"+secret+"o@origin.example:8080", 1)
	yml = strings.Replace(yml, "http://byurl.example/u", "http://uuser:"+secret+"u@byurl.example/u", 1)
	for _, proxy := range []string{
		"http://puser:" + secret + "@proxy.example:3128",
		"puser:" + secret + "@proxy.example:3128",
		"http://puser:" + secret + " x@proxy.example:3128",
		"http://puser:" + secret + "%zz@proxy.example:3128",
		"http://puser:" + secret + "/x@proxy.example:3128",
		"http://puser:" + secret + "#x@proxy.example:3128",
		"socks5://puser:" + secret + "@proxy.example:1080",
	} {
		got := proxyProtocolEnvWarningsWith(t, yml, map[string]string{
			"HTTP_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "user:" + secret + "@x",
		})
		if strings.Contains(got, secret) {
			t.Errorf("proxy %q: a warning shows the password:\n%s", proxy, got)
		}
	}
	got := proxyProtocolEnvWarningsWith(t, yml, map[string]string{"HTTP_PROXY": "http://proxy.example:3128"})
	if !strings.Contains(got, "applies to origin.example:8080") || !strings.Contains(got, "applies to byurl.example,") {
		t.Errorf("origins with user info not warned about by host:\n%s", got)
	}
}

// The warning is at the key of the origin as written, with its line: an
// origins entry written as a mapping, an endpoint's inline backend and a
// backend nested under another's oauth2.
func TestProxyProtocolEnvWarningKeyAndLine(t *testing.T) {
	const yml = `definitions:
  backends:
    api:
      proxy_protocol: v1
      origins:
        - origin: http://a.example:8080
          weight: 2
        - http://b.example:8080
      oauth2:
        grant_type: client_credentials
        token_endpoint: http://idp.example/t
        client_id: a
        client_secret: b
        backend:
          proxy_protocol: v2
          origin: http://idp.example
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /u
      proxy:
        backend:
          proxy_protocol: v2
          origin: http://inline.example:81
`
	got := proxyProtocolEnvWarningsWith(t, yml, map[string]string{"HTTP_PROXY": "http://proxy.example:3128"})
	for _, want := range []string{
		"definitions.backends.api.origins[0] (line 6): proxy_protocol: HTTP_PROXY in the environment applies to a.example:8080",
		"definitions.backends.api.origins[1] (line 8): proxy_protocol: HTTP_PROXY in the environment applies to b.example:8080",
		"definitions.backends.api.oauth2.backend.origin (line 16): proxy_protocol: HTTP_PROXY in the environment applies to idp.example,",
		"gateway.endpoints[0].proxy.backend.origin (line 24): proxy_protocol: HTTP_PROXY in the environment applies to inline.example:81",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
}

// A token fetch whose backend sends proxy_protocol and takes its origin
// from the token URL (oauth2 token_endpoint, beta_token_request url) is
// refused by the gateway like an endpoint's url is, so it is warned
// about like one.
func TestProxyProtocolEnvWarningTokenURLs(t *testing.T) {
	const yml = `definitions:
  backends:
    api:
      origin: http://127.0.0.1:9
      oauth2:
        grant_type: client_credentials
        token_endpoint: http://idp.example/t
        client_id: a
        client_secret: b
        backend:
          proxy_protocol: v2
      beta_token_request:
        tok:
          url: http://tokens.example/t
          token: t
          ttl: 1s
          backend:
            proxy_protocol: v1
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /u
      proxy:
        backend: api
`
	got := proxyProtocolEnvWarningsWith(t, yml, map[string]string{"HTTP_PROXY": "http://proxy.example:3128"})
	for _, want := range []string{
		"definitions.backends.api.oauth2.token_endpoint (line 7): proxy_protocol: HTTP_PROXY in the environment applies to idp.example,",
		"definitions.backends.api.beta_token_request.tok.url (line 14): proxy_protocol: HTTP_PROXY in the environment applies to tokens.example,",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
}

// A beta_token_request written as one block (named default) and an
// endpoint's request url are judged at their own keys and lines too.
func TestProxyProtocolEnvWarningSingleTokenBlockAndRequestURL(t *testing.T) {
	const yml = `definitions:
  backends:
    api:
      origin: http://127.0.0.1:9
      beta_token_request:
        url: https://tokens.example/t
        token: t
        ttl: 1s
        backend:
          proxy_protocol: v2
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /u
      request:
        url: http://req.example:8081/r
        backend:
          proxy_protocol: v1
`
	got := proxyProtocolEnvWarningsWith(t, yml, map[string]string{"https_proxy": "http://proxy.example:3128", "HTTP_PROXY": "http://proxy.example:3128"})
	for _, want := range []string{
		"definitions.backends.api.beta_token_request.url (line 6): proxy_protocol: https_proxy in the environment applies to tokens.example,",
		"gateway.endpoints[0].request.url (line 16): proxy_protocol: HTTP_PROXY in the environment applies to req.example:8081",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
}
