package migrate

import "strings"

// Reasons a Nauthilus key has no equivalent, by key path (1.x and 3.x
// names). The longest matching prefix wins; anything unlisted gets the
// generic reason.
var reasons = map[string]string{
	"ldap":                                     "backline has no LDAP password database; keep Nauthilus or Dovecot for LDAP logins, or check passwords against the backend itself (auth.passdb type backend_login)",
	"auth.backends.ldap":                       "backline has no LDAP password database; keep Nauthilus or Dovecot for LDAP logins, or check passwords against the backend itself (auth.passdb type backend_login)",
	"brute_force":                              "backline has no brute-force protection; keep it in front of the login (Nauthilus, Dovecot's auth_policy, fail2ban)",
	"auth.controls.brute_force":                "backline has no brute-force protection; keep it in front of the login (Nauthilus, Dovecot's auth_policy, fail2ban)",
	"server.brute_force_protocols":             "backline has no brute-force protection",
	"realtime_blackhole_lists":                 "backline does not query DNS blocklists",
	"auth.controls.rbl":                        "backline does not query DNS blocklists",
	"relay_domains":                            "backline does not check login domains against a list",
	"auth.controls.relay_domains":              "backline does not check login domains against a list",
	"cleartext_networks":                       "backline does not enforce client TLS; nginx and Dovecot do (ssl = required, auth_allow_cleartext)",
	"auth.controls.tls_encryption":             "backline does not enforce client TLS; nginx and Dovecot do (ssl = required, auth_allow_cleartext)",
	"oauth2":                                   "backline is not an OpenID Connect or SAML identity provider",
	"idp":                                      "backline is not an OpenID Connect or SAML identity provider",
	"identity":                                 "backline is not an OpenID Connect or SAML identity provider",
	"server.frontend":                          "backline is not an OpenID Connect or SAML identity provider",
	"server.ory_hydra_admin_url":               "backline is not an OpenID Connect or SAML identity provider",
	"server.oidc_auth":                         "no OIDC bearer tokens; server.api_auth takes HTTP Basic or a static bearer token",
	"auth.backchannel.oidc_bearer":             "no OIDC bearer tokens; server.api_auth takes HTTP Basic or a static bearer token",
	"server.jwt_auth":                          "no JWT; server.api_auth takes HTTP Basic or a static bearer token",
	"lua.features":                             "Lua features (scripts before the password check) have no equivalent; backline runs filters (lua.filters)",
	"auth.controls.lua.controls":               "Lua controls (scripts before the password check) have no equivalent; backline runs filters (lua.filters)",
	"lua.actions":                              "Lua post-actions have no equivalent",
	"auth.controls.lua.actions":                "Lua post-actions have no equivalent",
	"lua.custom_hooks":                         "custom HTTP hooks have no equivalent",
	"auth.controls.lua.hooks":                  "custom HTTP hooks have no equivalent",
	"lua.search":                               "backline's auth.passdb list applies to every protocol; there is no per-protocol backend search",
	"auth.backends.lua.backend.search":         "backline's auth.passdb list applies to every protocol; there is no per-protocol backend search",
	"lua.optional_lua_backends":                "named Lua backends: add an auth.passdb entry of type lua for each by hand",
	"auth.backends.lua.backend.named_backends": "named Lua backends: add an auth.passdb entry of type lua for each by hand",
	"auth.policy.policies":                     "backline has no policy rules; a filter's reject (or the password check) decides",
	"auth.policy":                              "backline has no policy engine; only the Lua filter scheduling carries over",
	"server.haproxy_v2":                        "backline's listener does not read a PROXY protocol header",
	"runtime.servers.http.haproxy_v2":          "backline's listener does not read a PROXY protocol header",
	"server.http3":                             "backline's listener speaks HTTP/1.1, and h2 with server.tls; not HTTP/3",
	"runtime.servers.http.http3":               "backline's listener speaks HTTP/1.1, and h2 with server.tls; not HTTP/3",
	"server.max_concurrent_requests":           "the nearest is server.max_connections (client connections, not requests; derived from the file limit by default)",
	"server.log.debug_modules":                 "backline has one debug level for everything",
	"observability.log.debug_modules":          "backline has one debug level for everything",
	"server.log.color":                         "backline's text logs have no colour",
	"observability.log.color":                  "backline's text logs have no colour",
	"server.prometheus_timer":                  "backline's /metrics has its own fixed set of series (docs/operations.md)",
	"observability.metrics":                    "backline's /metrics has its own fixed set of series (docs/operations.md)",
	"observability.tracing":                    "no OpenTelemetry tracing",
	"server.insights.tracing":                  "no OpenTelemetry tracing",
	"server.dns":                               "backline resolves names with the system resolver",
	"runtime.clients.dns":                      "backline resolves names with the system resolver",
	"server.master_user":                       "no master-user logins",
	"server.disabled_endpoints":                "backline has no per-endpoint switch; protect the API with server.api_auth",
	"runtime.servers.http.disabled_endpoints":  "backline has no per-endpoint switch; protect the API with server.api_auth",
	"server.instance_name":                     "backline has no instance name",
	"storage.redis.positive_cache_ttl":         "the nearest is auth.cache.ttl (backline's own positive cache: default 60s, at most 24h)",
	"server.redis.positive_cache_ttl":          "the nearest is auth.cache.ttl (backline's own positive cache: default 60s, at most 24h)",
	"storage.redis.negative_cache_ttl":         "backline caches successful logins only",
	"server.redis.negative_cache_ttl":          "backline caches successful logins only",
	"server.redis.cluster":                     "backline's Redis Cluster client takes addresses and credentials only; routing options are its own",
	"storage.redis.cluster":                    "backline's Redis Cluster client takes addresses and credentials only; routing options are its own",
	"lua.config.backend_number_of_workers":     "backline has one VM pool for every script (lua.config.vm_pool_size)",
	"lua.config.number_of_workers":             "backline has one VM pool for every script (lua.config.vm_pool_size)",
	"lua.config.action_number_of_workers":      "backline has one VM pool for every script (lua.config.vm_pool_size)",
	"lua.config.feature_vm_pool_size":          "backline has one VM pool for every script (lua.config.vm_pool_size)",
	"lua.config.hook_vm_pool_size":             "backline has one VM pool for every script (lua.config.vm_pool_size)",
	"includes":                                 "loader mechanics: run the converter on the merged file (nauthilus -n -P prints it)",
	"env":                                      "loader mechanics: run the converter on the merged file (nauthilus -n -P prints it)",
	"patch":                                    "loader mechanics: run the converter on the merged file (nauthilus -n -P prints it)",
	"auth.controls.enabled":                    "lists controls (brute_force, rbl, tls_encryption, relay_domains, lua) backline does not have",
	"server.timeouts.redis_read":               "backline's Redis timeouts are storage.redis.read_timeout and write_timeout",
	"server.timeouts.redis_write":              "backline's Redis timeouts are storage.redis.read_timeout and write_timeout",
	"runtime.timeouts.redis_read":              "backline's Redis timeouts are storage.redis.read_timeout and write_timeout",
	"runtime.timeouts.redis_write":             "backline's Redis timeouts are storage.redis.read_timeout and write_timeout",
	"(backend)":                                "unknown password backend; backline's are passwd_file, lua and backend_login (auth.passdb)",
}

const genericReason = "no equivalent in backline"

// reasonFor returns the reason for path, list indexes ignored.
func reasonFor(path string) string {
	p := stripIndexes(path)
	for p != "" {
		if r, ok := reasons[p]; ok {
			return r
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return genericReason
}

func stripIndexes(path string) string {
	var b strings.Builder
	depth := 0
	for _, r := range path {
		switch {
		case r == '[':
			depth++
		case r == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}
