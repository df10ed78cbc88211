package config

import (
	"fmt"
	"net"
	"time"
)

// Warnings lists settings that are legal but probably not what the operator
// meant, in "path (line N): message" form. Call it on a loaded Config.
func (c *Config) Warnings() []string {
	var out []string
	for _, e := range c.noSecretWarnings {
		out = append(out, e.Error())
	}
	warn := func(path, format string, args ...any) {
		out = append(out, Error{Path: path, Line: c.Lines.Line(path), Msg: fmt.Sprintf(format, args...)}.Error())
	}

	h := c.Auth.Services.BackendHealthChecks
	enabled := c.ServiceEnabled(ServiceBackendHealthChecks)
	switch {
	case !enabled && len(h.Targets) > 0:
		warn(healthChecksPath+".targets", "%d target(s) configured but %s is not listed in auth.services.enabled; they will not be probed", len(h.Targets), ServiceBackendHealthChecks)
	case enabled && len(h.Targets) == 0:
		warn("auth.services.enabled", "%s is enabled but has no targets", ServiceBackendHealthChecks)
	}

	if hold, wait := c.Auth.Nginx.EffectiveNoBackendHold(), c.Auth.Nginx.EffectiveNoBackendWait(); hold > 0 &&
		time.Duration(wait)*time.Second > hold {
		warn("auth.nginx.no_backend_wait", "%d s is longer than no_backend_hold (%s): nginx keeps a held client for the whole wait, so a login is held up to %s", wait, hold, hold+2*time.Duration(wait)*time.Second)
	}

	if !listensOnLoopback(c.Server.Address) && !c.Server.APIAuth.configured() {
		warn("server.address", "listens on %s, beyond loopback, without server.api_auth: anyone who can reach it can read backend status", c.Server.Address)
	}

	if w := fastIntervalWarning(h.FastInterval, max(h.ConnectInterval, h.DeepInterval), h.FailureThreshold, h.RecoveryThreshold); w != "" {
		warn(healthChecksPath+".fast_interval", "%s", w)
	}
	if w := downIntervalWarning(h.DownInterval, h.FastInterval, h.ConnectInterval, h.DeepInterval, h.RecoveryThreshold); w != "" {
		warn(healthChecksPath+".down_interval", "%s", w)
	}
	for i, t := range h.Targets {
		path := fmt.Sprintf("%s.targets[%d]", healthChecksPath, i)
		if !t.DeepCheck && (t.TestUsername != "" || t.TestPassword != "") {
			warn(path+".test_username", "test credentials are unused without deep_check: true")
		}
		if t.TLSMode == TLSPlain && (t.TLSSkipVerify || t.TLSCAFile != "" || t.TLSServerName != "" || t.TLSCertFile != "") {
			warn(path+".tls_mode", "tls_skip_verify, tls_ca_file, tls_server_name, tls_cert_file and tls_key_file are ignored with tls_mode plain")
		} else if t.TLSSkipVerify {
			warn(path+".tls_skip_verify", "certificate verification is off: the check cannot tell the backend from an impostor")
		}
		if enabled && t.TLSMode == TLSImplicit && t.ProxyPort == 0 && oneOf(t.Protocol, []string{ProtoIMAP, ProtoPOP3, ProtoSMTP}) {
			key := path + ".tls_mode"
			if _, written := c.Lines[key]; !written {
				key = path + ".tls"
			}
			warn(key, "implicit TLS: nginx's mail proxy speaks plain text to its upstream, so /api/v1/auth/nginx will not hand out this target; set proxy_port to its plain or STARTTLS port")
		}
	}
	c.backupWarnings(warn)
	c.listenerTLSWarnings(warn)
	c.clientCertWarnings(warn)
	c.gatewayClientCertWarnings(warn)
	switch {
	case c.Gateway.AccessLogFile == "":
	case c.Gateway.Address == "":
		warn("gateway.access_log_file", "stays empty: there is no gateway without gateway.address")
	case !c.Gateway.AccessLogEnabled():
		warn("gateway.access_log_file", "stays empty: gateway.access_log is false")
	}
	if c.Gateway.Address == "" && len(c.Definitions.Backends) > 0 {
		// Nothing builds them, so a mistake in them would show only once
		// gateway.address is set (a restart).
		warn("definitions.backends", "%d backend(s) defined but unused and not compiled: there is no gateway without gateway.address", len(c.Definitions.Backends))
	}
	c.secretFileWarnings(warn)
	c.authCacheWarnings(warn)
	c.originsWarnings(warn)
	c.balanceWarnings(warn)
	c.panicWarnings(warn)
	for _, label := range c.Definitions.SortedLabels() {
		if b := c.Definitions.Backends[label]; b != nil && b.Health != nil && b.Health.FailureThreshold != nil && b.Health.RecoveryThreshold != nil {
			h := b.Health
			if w := fastIntervalWarning(h.FastInterval, h.Interval, *h.FailureThreshold, *h.RecoveryThreshold); w != "" {
				warn("definitions.backends."+label+".beta_health.fast_interval", "%s", w)
			}
			if w := downIntervalWarning(h.DownInterval, h.FastInterval, h.Interval, h.Interval, *h.RecoveryThreshold); w != "" {
				warn("definitions.backends."+label+".beta_health.down_interval", "%s", w)
			}
		}
	}
	c.queueWarnings(warn)
	c.rateLimitQueueWarnings(warn)
	c.refinementQueueWarnings(warn)
	c.proxyEnvWarnings(warn)
	c.proxyProtocolEnvWarnings(warn)
	return out
}

func (a APIAuth) configured() bool {
	return a.Username != "" || a.BearerToken != "" || a.BearerFile != ""
}

func listensOnLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && IsLoopbackHost(host)
}
