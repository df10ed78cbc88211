package migrate

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// convertRoot dispatches each top-level section. Both layouts are accepted
// in one file: an operator half-way through Nauthilus's own v1 -> v2
// migration has both.
func (c *converter) convertRoot(doc *yaml.Node) {
	for _, e := range entries(doc) {
		switch e.name {
		case "server":
			c.sections++
			c.serverV1(e.val, "server")
		case "lua":
			c.sections++
			c.luaV1(e.val, "lua")
		case "backend_server_monitoring":
			c.sections++
			c.monitoringV1(e.key, e.val)
		case "runtime":
			c.sections++
			c.runtimeV3(e.val, "runtime")
		case "observability":
			c.sections++
			c.observabilityV3(e.val, "observability")
		case "storage":
			c.sections++
			c.storageV3(e.val, "storage")
		case "auth":
			c.sections++
			c.authV3(e.val, "auth")
		default:
			if strings.HasPrefix(e.name, "x-") {
				c.note(e.name, e.key.Line, Dropped, "an extension root (anchors for reuse); its values were carried over where they are referenced")
				continue
			}
			c.drop(e.name, e.key)
		}
	}
}

// serverV1 is the 1.x server section.
func (c *converter) serverV1(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		c.wrongKind(path, n, "mapping")
		return
	}
	for _, e := range entries(n) {
		p := join(path, e.name)
		switch e.name {
		case "address":
			c.set("server.address", p, e.key.Line, clone(e.val))
		case "log":
			c.logSection(e.val, p)
		case "features":
			c.featuresV1(e.val, p)
		case "redis":
			c.redis(e.val, p)
		case "timeouts":
			c.timeouts(e.val, p)
		case "basic_auth":
			c.basicAuth(e.key, e.val, p)
		case "insights":
			c.insightsV1(e.val, p)
		case "backends":
			c.backendOrder(e.val, p)
		case "default_http_request_header":
			c.requestHeaders(e.val, p)
		case "tls":
			c.listenerTLS(e.val, p, e.key.Line)
		default:
			c.drop(p, e.key)
		}
	}
}

// logSection is 1.x server.log and 3.x observability.log.
func (c *converter) logSection(n *yaml.Node, path string) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		switch {
		case e.name == "level" && e.val.Kind == yaml.ScalarNode:
			level := strings.ToLower(strings.TrimSpace(e.val.Value))
			switch level {
			case "debug", "info", "warn", "error":
				c.set("server.log_level", p, e.key.Line, scalar(level))
			case "none", "":
				c.set("server.log_level", p, e.key.Line, scalar("error"))
				c.note(p, e.key.Line, Changed, "backline cannot turn logging off; written as log_level: error (errors only)")
			default:
				c.note(p, e.key.Line, Dropped, "backline's levels are debug, info, warn and error; the default (info) applies")
			}
		case e.name == "json" && e.val.Kind == yaml.ScalarNode:
			format := "text"
			if isTrue(e.val) {
				format = "json"
			}
			c.set("server.log_format", p, e.key.Line, scalar(format))
		case e.name == "format" && e.val.Kind == yaml.ScalarNode:
			switch f := strings.ToLower(e.val.Value); f {
			case "json", "text":
				c.set("server.log_format", p, e.key.Line, scalar(f))
			default:
				c.note(p, e.key.Line, Changed, "backline writes text or json; the default (text) applies")
			}
		default:
			c.drop(p, e.key)
		}
	}
}

// featuresV1 is 1.x server.features: names, or mappings with a name (lua
// with when_no_auth). Only backend_server_monitoring has an equivalent.
func (c *converter) featuresV1(n *yaml.Node, path string) {
	for i, item := range items(n) {
		p := index(path, i)
		name := item.Value
		if item.Kind == yaml.MappingNode {
			for _, e := range entries(item) {
				if e.name == "name" {
					name = e.val.Value
				}
			}
		}
		switch name {
		case "backend_server_monitoring":
			c.enableService(p, item.Line)
		case "lua":
			c.note(p, item.Line, Dropped, "Lua features (scripts that run before the password check) have no equivalent; backline runs filters (lua.filters) only")
		case "tls_encryption":
			c.note(p, item.Line, Dropped, "%s", reasonFor("cleartext_networks"))
		case "relay_domains":
			c.note(p, item.Line, Dropped, "%s", reasonFor("relay_domains"))
		case "rbl":
			c.note(p, item.Line, Dropped, "%s", reasonFor("realtime_blackhole_lists"))
		case "brute_force":
			c.note(p, item.Line, Dropped, "%s", reasonFor("brute_force"))
		default:
			c.note(p, item.Line, Dropped, "unknown feature; no equivalent in backline")
		}
	}
}

// enableService records that the health checks run (1.x: the feature).
func (c *converter) enableService(from string, line int) {
	if c.serviceOn {
		return
	}
	c.serviceOn, c.serviceSrc = true, from
	_ = line
}

// insightsV1 is 1.x server.insights; only the profiler carries over.
func (c *converter) insightsV1(n *yaml.Node, path string) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		if e.name == "enable_pprof" && e.val.Kind == yaml.ScalarNode {
			c.pprof(e.key, e.val, p)
			continue
		}
		c.drop(p, e.key)
	}
}

func (c *converter) pprof(k, v *yaml.Node, path string) {
	c.set("server.pprof", path, k.Line, boolNode(isTrue(v)))
	if isTrue(v) {
		c.note(path, k.Line, Changed, "/debug/pprof/ sits behind server.api_auth like the API; backline refuses it on a non-loopback address without api_auth")
	}
}

// timeouts is 1.x server.timeouts and 3.x runtime.timeouts.
func (c *converter) timeouts(n *yaml.Node, path string) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		if e.name == "lua_script" {
			c.set("lua.config.script_timeout", p, e.key.Line, clone(e.val))
			continue
		}
		c.drop(p, e.key)
	}
}

// basicAuth is 1.x server.basic_auth and 3.x auth.backchannel.basic_auth:
// the credentials nginx or Dovecot send to the auth API, which backline's
// server.api_auth checks the same way (HTTP Basic).
func (c *converter) basicAuth(k, n *yaml.Node, path string) {
	enabled := false
	var user, pass *kv
	for _, e := range entries(n) {
		e := e
		switch e.name {
		case "enabled":
			enabled = isTrue(e.val)
		case "username":
			user = &e
		case "password":
			pass = &e
		default:
			c.drop(join(path, e.name), e.key)
		}
	}
	if !enabled {
		c.note(path, k.Line, Dropped, "basic_auth is not enabled, so the API stays open as in Nauthilus; keep server.address on loopback")
		return
	}
	if user != nil {
		c.set("server.api_auth.username", join(path, "username"), user.key.Line, clone(user.val))
	}
	if pass != nil {
		c.set("server.api_auth.password", join(path, "password"), pass.key.Line, clone(pass.val))
	}
	c.note(path, k.Line, Changed, "server.api_auth also protects the status page and /metrics (set public_metrics: true for an unauthenticated scraper)")
}

// luaV1 is the 1.x lua section.
func (c *converter) luaV1(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		c.wrongKind(path, n, "mapping")
		return
	}
	for _, e := range entries(n) {
		p := join(path, e.name)
		switch e.name {
		case "filters":
			c.filterList(e.val, p, true)
		case "config":
			c.luaConfig(e.val, p)
		default:
			c.drop(p, e.key)
		}
	}
}

// luaConfig is 1.x lua.config and 3.x auth.backends.lua.backend.default.
func (c *converter) luaConfig(n *yaml.Node, path string) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		switch e.name {
		case "package_path", "ip_scoping_v4_cidr", "ip_scoping_v6_cidr", "init_script_path", "init_script_paths":
			c.set("lua.config."+e.name, p, e.key.Line, clone(e.val))
		case "filter_vm_pool_size", "subject_vm_pool_size":
			c.set("lua.config.vm_pool_size", p, e.key.Line, clone(e.val))
			c.note(p, e.key.Line, Changed, "backline's vm_pool_size is one pool for every script (filters and the Lua passdb)")
		case "script_path":
			c.luaScript, c.luaScriptSrc = e.val, p
		default:
			c.drop(p, e.key)
		}
	}
}

// monitoringV1 is 1.x backend_server_monitoring.
func (c *converter) monitoringV1(k, n *yaml.Node) {
	const path = "backend_server_monitoring"
	if n.Kind != yaml.MappingNode {
		c.wrongKind(path, n, "mapping")
		return
	}
	for _, e := range entries(n) {
		p := join(path, e.name)
		if e.name != "backend_servers" {
			c.drop(p, e.key)
			continue
		}
		c.v1Monitoring = true
		c.targetList(e.key, e.val, p, true)
	}
	_ = k
}
