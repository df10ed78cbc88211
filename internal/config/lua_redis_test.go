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

// lua.config.redis_prefix: absent stays nil (scripts see
// storage.redis.prefix), "" and a value are kept, hostile values refused.
func TestLuaRedisPrefix(t *testing.T) {
	parse := func(line string) (*Config, error) {
		return Parse([]byte("lua:\n  config:\n" + line))
	}
	cfg, err := parse("    vm_pool_size: 4\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Lua.Config.RedisPrefix != nil {
		t.Errorf("absent: RedisPrefix = %q, want nil", *cfg.Lua.Config.RedisPrefix)
	}
	for _, want := range []string{"", "nt_", "my app{x}:"} {
		cfg, err := parse("    redis_prefix: \"" + want + "\"\n")
		if err != nil {
			t.Fatalf("%q: %v", want, err)
		}
		if got := cfg.Lua.Config.RedisPrefix; got == nil || *got != want {
			t.Errorf("%q: RedisPrefix = %v", want, got)
		}
	}
	for _, c := range []struct{ value, want string }{
		{strings.Repeat("a", MaxRedisPrefixLen+1), "lua.config.redis_prefix (line 3): must be at most 64 bytes, got 65"},
		{`nt_\n`, `lua.config.redis_prefix (line 3): must not contain control characters, got "nt_\n"`},
		{`a\x00b`, `lua.config.redis_prefix (line 3): must not contain control characters`},
		{`\x1b[31m`, `lua.config.redis_prefix (line 3): must not contain control characters`},
		{`a\u0085`, `lua.config.redis_prefix (line 3): must not contain control characters`},
	} {
		_, err := parse("    redis_prefix: \"" + c.value + "\"\n")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.value, err, c.want)
		}
	}
	if _, err := parse("    redis_prefix: \"" + strings.Repeat("a", MaxRedisPrefixLen) + "\"\n"); err != nil {
		t.Errorf("64 bytes: %v", err)
	}
}
