package config

import (
	"strings"
	"testing"
)

func TestLuaRedisAllowedAddresses(t *testing.T) {
	const redisBlock = "storage:\n  redis:\n    primary:\n      address: 127.0.0.1:6379\n"
	for _, c := range []struct{ yaml, want string }{
		{"redis_allowed_addresses: [\"127.0.0.1:6380\", \"nohost\"]\n" + redisBlock,
			`lua.config.redis_allowed_addresses[1] (line 3): "nohost" is not host:port`},
		{"redis_allowed_addresses: [\"127.0.0.1:6380\"]\n",
			`lua.config.redis_allowed_addresses (line 3): needs storage.redis`},
		{"redis_allowed_addresses: 127.0.0.1:6380\n" + redisBlock,
			`lua.config.redis_allowed_addresses (line 3): must be a list`},
	} {
		_, err := Parse([]byte("lua:\n  config:\n    " + c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.yaml, err, c.want)
		}
	}
	cfg, err := Parse([]byte("lua:\n  config:\n    redis_allowed_addresses: [\"redis-b.example:6379\", \"[::1]:6380\"]\n" + redisBlock))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Lua.Config.RedisAllowedAddresses; len(got) != 2 || got[1] != "[::1]:6380" {
		t.Errorf("addresses = %q", got)
	}
}
