package migrate

import (
	"go.yaml.in/yaml/v3"
)

// redisField is one value bound for storage.redis, kept until the topology
// is known.
type redisField struct {
	out  string // path under storage.redis
	src  string
	line int
	val  *yaml.Node
}

// Keys backline shares with Nauthilus under storage.redis (internal/config
// storage.go follows Nauthilus's names).
var (
	redisScalars = map[string]bool{
		"database_number": true, "pool_size": true, "idle_pool_size": true,
		"pool_timeout": true, "dial_timeout": true, "read_timeout": true, "write_timeout": true,
	}
	redisNodeKeys    = map[string]bool{"address": true, "username": true, "password": true, "password_file": true}
	redisSeedKeys    = map[string]bool{"addresses": true, "username": true, "password": true, "password_file": true}
	redisSentinelKey = map[string]bool{"master": true, "addresses": true, "username": true, "password": true, "password_file": true}
	redisTLSKeys     = map[string]bool{"enabled": true, "ca_file": true, "cert": true, "key": true, "skip_verify": true, "server_name": true}
)

// redis is 1.x server.redis and 3.x storage.redis.
func (c *converter) redis(n *yaml.Node, path string) {
	c.redisSeen = true
	if n.Kind != yaml.MappingNode {
		c.wrongKind(path, n, "mapping")
		return
	}
	var fields []redisField
	add := func(out, src string, k, v *yaml.Node) {
		fields = append(fields, redisField{out: out, src: src, line: k.Line, val: v})
	}
	sub := func(e kv, p, outName string, keys map[string]bool) {
		for _, f := range entries(e.val) {
			fp := join(p, f.name)
			if keys[f.name] {
				add(outName+"."+f.name, fp, f.key, f.val)
				continue
			}
			c.drop(fp, f.key)
		}
	}
	for _, e := range entries(n) {
		p := join(path, e.name)
		switch {
		case redisScalars[e.name]:
			add(e.name, p, e.key, e.val)
		case e.name == "master" || e.name == "primary":
			sub(e, p, "primary", redisNodeKeys)
		case e.name == "replica":
			sub(e, p, "replica", map[string]bool{"addresses": true})
			c.note(p, e.key.Line, Changed, "backline accepts replica addresses but reads from the primary (its state must read its own writes)")
		case e.name == "sentinels":
			sub(e, p, "sentinels", redisSentinelKey)
		case e.name == "cluster":
			sub(e, p, "cluster", redisSeedKeys)
		case e.name == "tls":
			for _, f := range entries(e.val) {
				fp := join(p, f.name)
				switch {
				case redisTLSKeys[f.name]:
					add("tls."+f.name, fp, f.key, f.val)
				case f.name == "http_client_skip_verify":
					add("tls.skip_verify", fp, f.key, f.val)
				default:
					c.drop(fp, f.key)
				}
			}
		case e.name == "prefix":
			c.note(p, e.key.Line, Changed, "not copied: backline's own keys start with backline: (storage.redis.prefix), so they never mix with Nauthilus's in a shared Redis")
		case e.name == "password_nonce":
			c.set("lua.config.password_nonce", p, e.key.Line, clone(e.val))
			c.note(p, e.key.Line, Changed, "moved to lua.config.password_nonce, where nauthilus_password.generate_password_hash reads it")
		default:
			c.drop(p, e.key)
		}
	}
	c.emitRedis(path, n.Line, fields)
}

// emitRedis writes the fields for one topology. backline takes exactly one
// of primary.address, sentinels or cluster.addresses; a Nauthilus file may
// carry several (its defaults fill the primary), and the most specific one
// is kept, as Nauthilus's client picks it: cluster, then Sentinels.
func (c *converter) emitRedis(path string, line int, fields []redisField) {
	has := func(prefix string) bool {
		for _, f := range fields {
			if has2(f.out, prefix) {
				return true
			}
		}
		return false
	}
	mode := "primary."
	switch {
	case has("cluster.addresses"):
		mode = "cluster."
	case has("sentinels."):
		mode = "sentinels."
	}
	for _, f := range fields {
		skip := ""
		switch {
		case mode == "cluster." && (has2(f.out, "primary.") || has2(f.out, "sentinels.") || has2(f.out, "replica.")):
			skip = "the cluster is configured too; backline talks to one topology, the cluster"
		case mode == "sentinels." && (f.out == "primary.address" || has2(f.out, "replica.")):
			skip = "Sentinels are configured too; they name the primary and its replicas"
		}
		if skip != "" {
			c.note(f.src, f.line, Dropped, "%s", skip)
			continue
		}
		c.set("storage.redis."+f.out, f.src, f.line, clone(f.val))
	}
	if mode == "primary." && !has("primary.address") {
		c.set("storage.redis.primary.address", path, line, scalar("127.0.0.1:6379"))
		c.note(path, line, Changed, "no primary address: written as 127.0.0.1:6379, Nauthilus's default")
	}
}

func has2(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }
