package config

import "strings"

// NauthilusHint is added to the first error about a key only Nauthilus
// knows: a Nauthilus file fails with 10 to 30 unknown keys, and one pointer
// to the converter says more than repeating it on each.
const NauthilusHint = "this is a Nauthilus key; " + MigrateHint

// MigrateHint names the converter.
const MigrateHint = "`backline migrate nauthilus FILE` converts such files"

// nauthilusPaths are key paths that exist in Nauthilus files (1.x and 3.x
// layouts) but not in backline's. A path matches itself and its children.
var nauthilusPaths = []string{
	// 1.x roots
	"backend_server_monitoring", "ldap", "brute_force", "realtime_blackhole_lists",
	"oauth2", "idp", "relay_domains", "cleartext_networks",
	// 3.x (config v2) roots
	"runtime", "observability", "identity", "includes", "env", "patch",
	// 1.x keys under roots both programs have
	"server.features", "server.redis", "server.log", "server.backends", "server.basic_auth",
	"server.timeouts", "server.tls", "server.insights", "server.default_http_request_header",
	"server.brute_force_protocols", "server.frontend", "server.jwt_auth", "server.oidc_auth",
	"server.dns", "server.http_client", "server.master_user", "server.disabled_endpoints",
	"server.instance_name", "server.max_concurrent_requests", "server.haproxy_v2",
	"lua.features", "lua.actions", "lua.custom_hooks", "lua.search", "lua.optional_lua_backends",
	"lua.config.script_path", "lua.config.backend_number_of_workers", "lua.config.number_of_workers",
	"lua.config.action_number_of_workers", "lua.config.feature_vm_pool_size", "lua.config.hook_vm_pool_size",
	// 3.x keys under auth
	"auth.backends", "auth.controls", "auth.policy", "auth.backchannel",
	"auth.services.backend_server_monitoring",
	"storage.redis.master", "storage.redis.password_nonce", "storage.redis.positive_cache_ttl",
	"storage.redis.negative_cache_ttl",
}

// isNauthilusPath reports whether path (as in an Error) is or lies under
// one of nauthilusPaths; list indexes are ignored.
func isNauthilusPath(path string) bool {
	for _, p := range nauthilusPaths {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

// addNauthilusHint appends NauthilusHint to the first error (in file
// order) that is about a Nauthilus key: an unknown key, or the 1.x service
// name backend_server_monitoring.
func addNauthilusHint(errs Errors) {
	for i, e := range errs {
		switch {
		case strings.HasPrefix(e.Msg, "unknown key") && isNauthilusPath(e.Path):
			errs[i].Msg += "; " + NauthilusHint
			return
		case strings.HasPrefix(e.Msg, "backend_server_monitoring is the Nauthilus 1.x name"):
			errs[i].Msg += "; " + MigrateHint
			return
		}
	}
}
