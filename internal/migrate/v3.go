package migrate

import (
	"go.yaml.in/yaml/v3"
)

// runtimeV3 is 3.x runtime: the HTTP listener and shared timeouts.
func (c *converter) runtimeV3(n *yaml.Node, path string) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		switch e.name {
		case "servers":
			for _, s := range entries(e.val) {
				sp := join(p, s.name)
				if s.name != "http" {
					c.drop(sp, s.key)
					continue
				}
				for _, h := range entries(s.val) {
					hp := join(sp, h.name)
					switch h.name {
					case "address":
						c.set("server.address", hp, h.key.Line, clone(h.val))
						continue
					case "tls":
						c.listenerTLS(h.val, hp, h.key.Line)
						continue
					}
					c.drop(hp, h.key)
				}
			}
		case "timeouts":
			c.timeouts(e.val, p)
		case "listen":
			// The 3.0 pre-release name of runtime.servers.http.
			c.keepOnly(e.val, p, "address", func(l kv, lp string) {
				c.set("server.address", lp, l.key.Line, clone(l.val))
			})
		default:
			c.drop(p, e.key)
		}
	}
}

// observabilityV3 is 3.x observability: logs and the profiler.
func (c *converter) observabilityV3(n *yaml.Node, path string) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		switch e.name {
		case "log":
			c.logSection(e.val, p)
		case "profiles":
			c.keepOnly(e.val, p, "pprof", func(pr kv, pp string) {
				c.keepOnly(pr.val, pp, "enabled", func(f kv, fp string) { c.pprof(f.key, f.val, fp) })
			})
		default:
			c.drop(p, e.key)
		}
	}
}

// storageV3 is 3.x storage.
func (c *converter) storageV3(n *yaml.Node, path string) {
	c.keepOnly(n, path, "redis", func(e kv, p string) { c.redis(e.val, p) })
}

// authV3 is 3.x auth.
func (c *converter) authV3(n *yaml.Node, path string) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		switch e.name {
		case "services":
			c.servicesV3(e.val, p)
		case "backends":
			c.backendsV3(e.val, p)
		case "controls":
			c.controlsV3(e.val, p)
		case "policy":
			c.policyV3(e.val, p)
		case "backchannel":
			c.keepOnly(e.val, p, "basic_auth", func(b kv, bp string) { c.basicAuth(b.key, b.val, bp) })
		case "request":
			c.keepOnly(e.val, p, "headers", func(r kv, rp string) { c.requestHeaders(r.val, rp) })
		default:
			c.drop(p, e.key)
		}
	}
}

// servicesV3 is auth.services: the service list and the health checks.
func (c *converter) servicesV3(n *yaml.Node, path string) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		switch e.name {
		case "enabled":
			for i, s := range items(e.val) {
				ip := index(p, i)
				switch s.Value {
				case "backend_health_checks":
					c.enableService(ip, s.Line)
				case "backend_server_monitoring":
					c.enableService(ip, s.Line)
					c.note(ip, s.Line, Changed, "the 1.x name; written as backend_health_checks")
				default:
					c.note(ip, s.Line, Dropped, "unknown service; backline has only backend_health_checks")
				}
			}
		case "backend_health_checks", "backend_server_monitoring":
			c.healthChecksV3(e.key, e.val, p)
		default:
			c.drop(p, e.key)
		}
	}
}

// healthCheckGlobals are the service-wide keys backline shares with 3.x.
var healthCheckGlobals = map[string]bool{
	"connect_timeout": true, "tls_timeout": true, "deep_timeout": true,
	"connect_interval": true, "deep_interval": true,
	"failure_threshold": true, "recovery_threshold": true,
}

func (c *converter) healthChecksV3(k, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		c.wrongKind(path, n, "mapping")
		return
	}
	for _, e := range entries(n) {
		p := join(path, e.name)
		switch {
		case e.name == "targets":
			c.targetList(e.key, e.val, p, false)
		case healthCheckGlobals[e.name]:
			c.set("auth.services.backend_health_checks."+e.name, p, e.key.Line, clone(e.val))
		default:
			c.drop(p, e.key)
		}
	}
	_ = k
}

// backendsV3 is auth.backends: the order and the Lua backend.
func (c *converter) backendsV3(n *yaml.Node, path string) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		switch e.name {
		case "order":
			c.backendOrder(e.val, p)
		case "lua":
			for _, l := range entries(e.val) {
				lp := join(p, l.name)
				if l.name != "backend" {
					c.drop(lp, l.key)
					continue
				}
				for _, b := range entries(l.val) {
					bp := join(lp, b.name)
					if b.name == "default" {
						c.luaConfig(b.val, bp)
						continue
					}
					c.drop(bp, b.key)
				}
			}
		default:
			c.drop(p, e.key)
		}
	}
}

// controlsV3 is auth.controls; only its Lua filters carry over.
func (c *converter) controlsV3(n *yaml.Node, path string) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		if e.name != "lua" {
			c.drop(p, e.key)
			continue
		}
		for _, l := range entries(e.val) {
			lp := join(p, l.name)
			if l.name == "filters" {
				c.filterList(l.val, lp, false)
				continue
			}
			c.drop(lp, l.key)
		}
	}
}

// policyV3 is auth.policy: Lua subject sources (3.1) and the checks that
// schedule filters; the decision rules have no equivalent.
func (c *converter) policyV3(n *yaml.Node, path string) {
	for _, e := range entries(n) {
		p := join(path, e.name)
		switch e.name {
		case "attribute_sources":
			c.keepOnly(e.val, p, "lua", func(a kv, ap string) {
				c.keepOnly(a.val, ap, "subject", func(l kv, lp string) { c.filterList(l.val, lp, false) })
			})
		case "checks":
			c.policyChecks(e.val, p)
		default:
			c.drop(p, e.key)
		}
	}
}
