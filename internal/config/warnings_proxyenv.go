package config

import (
	"net/url"
	"os"

	"github.com/backline/backline/internal/redact"
)

// proxyEnvNames are the variables net/http reads for the gateway's origins
// (backends without a proxy of their own; NO_PROXY and loopback exempt).
var proxyEnvNames = []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"}

// getenv reads the environment; tests replace it (and put osGetenv back).
var getenv, osGetenv = os.Getenv, os.Getenv

// proxyEnvWarnings warns about a proxy variable net/url cannot parse:
// net/http does not refuse it but reads it as "http://" + value (a proxy
// called "http:"), so every request through it fails at the dial, with
// nothing saying why. The value is quoted without its password.
func (c *Config) proxyEnvWarnings(warn func(path, format string, args ...any)) {
	if c.Gateway.Address == "" {
		return
	}
	for _, name := range proxyEnvNames {
		v := getenv(name)
		if v == "" {
			continue
		}
		if _, err := url.Parse(v); err != nil {
			warn("environment "+name, "is not a URL (%s): the gateway's requests through it will fail; percent-encode the user name and password", redact.URLParseError(v, err))
		}
	}
}
