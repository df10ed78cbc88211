package config

import (
	"fmt"
	"net"
	"strings"
	"unicode"
)

// validateLuaRedis checks lua.config.redis_allowed_addresses: host:port
// entries, at most MaxRedisAddresses. Scripts may register Redis pools
// only on these servers and storage.redis's own, so a filter copied from
// elsewhere cannot make the daemon connect anywhere it likes.
func (c *Config) validateLuaRedis(errs *Errors) {
	const key = "lua.config.redis_allowed_addresses"
	list := c.Lua.Config.RedisAllowedAddresses
	if len(list) > MaxRedisAddresses {
		errs.Add(key, c.Lines.Line(key), "at most %d addresses, got %d", MaxRedisAddresses, len(list))
		return
	}
	for i, a := range list {
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
			k := fmt.Sprintf("%s[%d]", key, i)
			errs.Add(k, c.Lines.Line(k), "%q is not host:port", a)
		}
	}
	if len(list) > 0 && c.Storage.Redis == nil {
		errs.Add(key, c.Lines.Line(key), "needs storage.redis (nauthilus_redis runs only with it)")
	}
}

// validateLuaRedisPrefix checks lua.config.redis_prefix. Unlike
// storage.redis.prefix it may be empty or hold spaces and braces, as
// Nauthilus's prefix may: it only has to reproduce the keys Nauthilus
// wrote. Control characters are refused: they would make keys unreadable
// in redis-cli and in logs, and no Nauthilus prefix needs them.
func (c *Config) validateLuaRedisPrefix(errs *Errors) {
	const key = "lua.config.redis_prefix"
	p := c.Lua.Config.RedisPrefix
	switch {
	case p == nil:
	case len(*p) > MaxRedisPrefixLen:
		errs.Add(key, c.Lines.Line(key), "must be at most %d bytes, got %d", MaxRedisPrefixLen, len(*p))
	case strings.ContainsFunc(*p, unicode.IsControl):
		errs.Add(key, c.Lines.Line(key), "must not contain control characters, got %q", *p)
	}
}
