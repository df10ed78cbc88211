package migrate

import (
	"go.yaml.in/yaml/v3"

	"github.com/backline/backline/internal/config"
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
	if !c.redisSeen {
		c.redisSeen, c.redisSrc, c.redisLine = true, path, n.Line
	}
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
			c.redisPrefix(e, p)
		case e.name == "password_nonce":
			c.set("lua.config.password_nonce", p, e.key.Line, clone(e.val))
			c.note(p, e.key.Line, Changed, "moved to lua.config.password_nonce, where nauthilus_password.generate_password_hash reads it")
		default:
			c.drop(p, e.key)
		}
	}
	c.emitRedis(path, n.Line, fields)
}

// redisPrefix moves Nauthilus's prefix to lua.config.redis_prefix: scripts
// see it as request.redis_prefix and keep finding the keys Nauthilus
// wrote, while storage.redis.prefix stays backline's own, so backline's
// keys never mix with Nauthilus's in a shared Redis.
func (c *converter) redisPrefix(e kv, p string) {
	// A prefix that cannot be copied is not replaced by the default below:
	// that would point scripts at keys Nauthilus never wrote.
	c.redisPrefixSeen = true
	v := resolve(e.val)
	if v.Kind != yaml.ScalarNode {
		c.wrongKind(p, v, "string")
		return
	}
	val := v.Value
	if v.Tag == "!!null" {
		val = "" // prefix: with no value is Nauthilus's default, none
	}
	if len(val) > config.MaxRedisPrefixLen {
		c.note(p, e.key.Line, Dropped, "longer than %d bytes, the most lua.config.redis_prefix takes", config.MaxRedisPrefixLen)
		return
	}
	c.set(luaRedisPrefix, p, e.key.Line, scalar(val))
	c.note(p, e.key.Line, Changed, "moved to lua.config.redis_prefix (request.redis_prefix in scripts); storage.redis.prefix stays backline's own, so its keys never mix with Nauthilus's")
}

// finishRedisPrefix writes Nauthilus's default prefix, none, for a Redis
// section without one: scripts then build the keys Nauthilus built.
func (c *converter) finishRedisPrefix() {
	if !c.redisSeen || c.redisPrefixSeen {
		return
	}
	src := join(c.redisSrc, "prefix")
	c.set(luaRedisPrefix, src, c.redisLine, scalar(""))
	c.note(src, c.redisLine, Changed, "not set: lua.config.redis_prefix written as \"\" (Nauthilus's default) so scripts find Nauthilus's keys; storage.redis.prefix stays backline's own")
}

const luaRedisPrefix = "lua.config.redis_prefix"

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
