package migrate

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// backendRef is one entry of the password backend order.
type backendRef struct {
	name string
	src  string
	line int
}

// backendOrder is 1.x server.backends and 3.x auth.backends.order.
func (c *converter) backendOrder(n *yaml.Node, path string) {
	for i, item := range items(n) {
		c.backends = append(c.backends, backendRef{name: strings.TrimSpace(item.Value), src: index(path, i), line: item.Line})
	}
}

// finish writes what needed the whole file: passdb list, targets and the
// service switch, filters; then the notes about what Nauthilus did by
// default and backline does not.
func (c *converter) finish() {
	c.finishPassdb()
	c.finishHealthChecks()
	if kept := c.scheduleFilters(); len(kept) > 0 {
		list := &yaml.Node{Kind: yaml.SequenceNode}
		for _, f := range kept {
			list.Content = append(list.Content, f.out)
		}
		c.set("lua.filters", c.filters[0].src, c.filters[0].line, list)
	}
	c.finishRedisPrefix()
	if c.sections > 0 && !c.redisSeen {
		c.note("storage.redis", 0, Changed, "Nauthilus always uses Redis (by default 127.0.0.1:6379); without storage.redis backline keeps its state in memory, per instance")
	}
}

func (c *converter) finishPassdb() {
	list := &yaml.Node{Kind: yaml.SequenceNode}
	usedLua := false
	for _, b := range c.backends {
		switch {
		case b.name == "cache":
			c.note(b.src, b.line, Changed, "backline's positive cache (auth.cache, on by default, 60s) is in memory per instance; it is shared through storage.redis only with auth.cache.hmac_key_file")
		case b.name == "lua" && c.luaScript != nil:
			usedLua = true
			entry := &yaml.Node{Kind: yaml.MappingNode}
			appendKV(entry, "name", scalar("lua"))
			appendKV(entry, "type", scalar("lua"))
			appendKV(entry, "script_path", clone(c.luaScript))
			list.Content = append(list.Content, entry)
			// Nauthilus lets its db module connect anywhere; backline only
			// where the operator says (docs/nauthilus.md, "db").
			c.note(c.luaScriptSrc, c.luaScript.Line, Changed, "if the script uses the db module (SQL), list its database's host:port in lua.config.db.allowed_addresses: backline refuses every db.open otherwise; `backline check` names the DSNs it would refuse")
		case b.name == "lua":
			c.note(b.src, b.line, Dropped, "the Lua backend has no script_path in this file")
		case strings.HasPrefix(b.name, "lua("):
			c.note(b.src, b.line, Dropped, "%s", reasonFor("lua.optional_lua_backends"))
		default:
			c.note(b.src, b.line, Dropped, "%s", reasonFor(backendReason(b.name)))
		}
	}
	if c.luaScript != nil && !usedLua {
		c.note(c.luaScriptSrc, c.luaScript.Line, Dropped, "the Lua backend is not in the backend order, so Nauthilus does not use it")
	}
	if len(list.Content) > 0 {
		c.set("auth.passdb", c.backends[0].src, c.backends[0].line, list)
	}
}

func backendReason(name string) string {
	if strings.HasPrefix(name, "ldap") {
		return "ldap"
	}
	return "(backend)"
}

func (c *converter) finishHealthChecks() {
	if c.serviceOn {
		c.set("auth.services.enabled", c.serviceSrc, 0, &yaml.Node{Kind: yaml.SequenceNode,
			Content: []*yaml.Node{scalar("backend_health_checks")}})
	}
	if len(c.targets) == 0 {
		return
	}
	if c.v1Monitoring && !c.has("auth.services.backend_health_checks.connect_interval") {
		c.set("auth.services.backend_health_checks.connect_interval", c.targetsSrc, c.targetsLine, scalar("20s"))
		c.note(c.targetsSrc, c.targetsLine, Changed, "1.x probed every 20s (fixed); written as connect_interval: 20s (backline's default is 10s)")
	}
	c.set("auth.services.backend_health_checks.targets", c.targetsSrc, c.targetsLine,
		&yaml.Node{Kind: yaml.SequenceNode, Content: c.targets})
	if !c.serviceOn {
		c.note(c.targetsSrc, c.targetsLine, Changed, "the health-check service is not enabled (1.x server.features, 3.x auth.services.enabled), so Nauthilus does not probe these targets; copied, but unprobed until backend_health_checks is listed in auth.services.enabled")
	}
}
