package config

import (
	"strings"
	"testing"
)

// A proxy variable net/url cannot parse is warned about, without its
// password; a good one, or any with no gateway, is not.
func TestProxyEnvWarnings(t *testing.T) {
	env := map[string]string{}
	getenv = func(name string) string { return env[name] }
	defer func() { getenv = osGetenv }()
	warnings := func(gateway bool) string {
		c := &Config{}
		if gateway {
			c.Gateway.Address = "127.0.0.1:8080"
		}
		var out []string
		c.proxyEnvWarnings(func(path, format string, args ...any) {
			out = append(out, path+": "+format)
			for _, a := range args {
				out = append(out, a.(string))
			}
		})
		return strings.Join(out, "\n")
	}
	env["HTTP_PROXY"] = "http://user:pa/ss#SECRET@proxy:3128"
	got := warnings(true)
	if !strings.Contains(got, "environment HTTP_PROXY") {
		t.Errorf("no warning: %q", got)
	}
	if strings.Contains(got, "SECRET") {
		t.Errorf("password in the warning: %q", got)
	}
	if got := warnings(false); got != "" {
		t.Errorf("warned without a gateway: %q", got)
	}
	env["HTTP_PROXY"] = "http://user:pa%2Fss@proxy:3128"
	env["https_proxy"] = "proxy.example:3128" // no scheme: net/http adds http://
	if got := warnings(true); got != "" {
		t.Errorf("warned about good values: %q", got)
	}
}
