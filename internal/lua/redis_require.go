package lua

import (
	"fmt"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
)

// A script that needs nauthilus_redis cannot work without storage.redis:
// every request would fail. So it is refused at load (NewEngine,
// NewPasswordScript, `backline check`), naming the script, instead of
// failing logins later. "Needs" means its compiled code holds the string
// "nauthilus_redis" anywhere (require, dynamic_loader), in any nested
// function, or it calls the 1.0 table's nauthilus.redis_* (legacyUsesRedis).

// protoMentions reports whether p or a function nested in it has the
// string constant s.
func protoMentions(p *glua.FunctionProto, s string) bool {
	for _, c := range p.Constants {
		if str, ok := c.(glua.LString); ok && string(str) == s {
			return true
		}
	}
	for _, sub := range p.FunctionPrototypes {
		if protoMentions(sub, s) {
			return true
		}
	}
	return false
}

// errNeedsRedis is the load error of a script that needs Redis.
func errNeedsRedis(name string) error {
	return fmt.Errorf("lua script %q requires %s, but storage.redis is not configured", name, redisModule)
}

// checkRedisAvailable refuses s when it needs nauthilus_redis and the
// engine's Host has no Redis client.
func (e *Engine) checkRedisAvailable(s *script) error {
	if (protoMentions(s.proto, redisModule) || legacyUsesRedis(s.proto)) && !e.host.HasRedis() {
		return errNeedsRedis(s.name)
	}
	return nil
}

// checkScriptNeeds is CompileScripts' part: a compiled script that needs
// Redis while cfg has no storage.redis.
func checkScriptNeeds(cfg *config.Config, name string, proto *glua.FunctionProto) error {
	if cfg.Storage.Redis == nil && (protoMentions(proto, redisModule) || legacyUsesRedis(proto)) {
		return errNeedsRedis(name)
	}
	return nil
}
