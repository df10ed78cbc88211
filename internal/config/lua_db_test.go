package config

import (
	"strings"
	"testing"
)

func TestLuaDBDefaults(t *testing.T) {
	cfg, err := Parse([]byte("lua:\n  config:\n    vm_pool_size: 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Lua.Config.DB
	if got.EffectiveMaxOpenConnections() != DefaultLuaDBMaxOpen || got.EffectiveMaxIdleConnections() != DefaultLuaDBMaxIdle ||
		got.EffectiveMaxRows() != DefaultLuaDBMaxRows || got.MaxIdleConnections != nil || len(got.AllowedAddresses) != 0 {
		t.Errorf("db = %+v", got)
	}
	if s := LuaDBSummary(got); s != "" {
		t.Errorf("summary without allowed addresses: %q", s)
	}
	cfg, err = Parse([]byte("lua:\n  config:\n    db:\n      allowed_addresses: [\"DB.Example:3306\", \"[::1]:5432\", \"/run/mysqld/mysqld.sock\"]\n      max_open_connections: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Lua.Config.DB; d.MaxOpenConnections != 1 || d.EffectiveMaxIdleConnections() != 1 || len(d.AllowedAddresses) != 3 {
		t.Errorf("db = %+v", d)
	}
}

// max_idle_connections: 0 keeps no idle connection; it is not "the
// default" (it was, and a pool then kept 2).
func TestLuaDBMaxIdleZero(t *testing.T) {
	cfg, err := Parse([]byte("lua:\n  config:\n    db:\n      allowed_addresses: [\"127.0.0.1:3306\"]\n      max_idle_connections: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Lua.Config.DB
	if d.MaxIdleConnections == nil || d.EffectiveMaxIdleConnections() != 0 {
		t.Fatalf("max_idle_connections: 0 became %v", d.EffectiveMaxIdleConnections())
	}
	want := "1 allowed address(es); per DSN max_open_connections 10, max_idle_connections 0 (none kept between queries); max_rows 10000"
	if s := LuaDBSummary(d); s != want {
		t.Errorf("summary %q, want %q", s, want)
	}
	// Not set: the default, at most max_open_connections.
	for _, c := range []struct {
		d    LuaDB
		want int
	}{{LuaDB{}, DefaultLuaDBMaxIdle}, {LuaDB{MaxOpenConnections: 1}, 1}, {LuaDB{MaxIdleConnections: new(int)}, 0}} {
		if got := c.d.EffectiveMaxIdleConnections(); got != c.want {
			t.Errorf("%+v: %d, want %d", c.d, got, c.want)
		}
	}
}

// Every refusal names the key path and its line.
func TestLuaDBHostileValues(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{`allowed_addresses: ["127.0.0.1"]`, `lua.config.db.allowed_addresses[0] (line 4): "127.0.0.1" is neither host:port`},
		{`allowed_addresses: ["h:0"]`, `lua.config.db.allowed_addresses[0] (line 4): "h:0" is neither`},
		{`allowed_addresses: ["a b:3306"]`, `lua.config.db.allowed_addresses[0] (line 4)`},
		{`allowed_addresses: ["run/mysqld.sock"]`, `lua.config.db.allowed_addresses[0] (line 4)`},
		{`allowed_addresses: ["[fe80::1%eth0]:3306"]`, `lua.config.db.allowed_addresses[0] (line 4)`},
		{`allowed_addresses: "127.0.0.1:3306"`, `lua.config.db.allowed_addresses (line 4): must be a list`},
		{`max_open_connections: 0`, `lua.config.db.max_open_connections (line 4): must be between 1 and 1000, got 0 (0 is neither unlimited nor the default; leave the key out for the default 10)`},
		{`max_rows: 0`, `lua.config.db.max_rows (line 4): must be between 1 and 1000000, got 0 (0 is neither unlimited nor the default; leave the key out for the default 10000)`},
		{`max_open_connections: 1001`, `lua.config.db.max_open_connections (line 4): must be between 1 and 1000`},
		{`max_rows: -1`, `lua.config.db.max_rows (line 4): must be between 1 and 1000000, got -1`},
		{`max_idle_connections: 11`, `lua.config.db.max_idle_connections (line 4): must be between 0 and max_open_connections (10), got 11`},
		{`max_idle_connections: -1`, `lua.config.db.max_idle_connections (line 4): must be between 0 and max_open_connections (10), got -1`},
		{"max_open_connections: 3\n      max_idle_connections: 4", `lua.config.db.max_idle_connections (line 5): must be between 0 and max_open_connections (3), got 4`},
		{`max_idle_connections: "none"`, `lua.config.db.max_idle_connections (line 4)`},
		{`allowed: []`, `lua.config.db.allowed`},
	} {
		_, err := Parse([]byte("lua:\n  config:\n    db:\n      " + c.yaml + "\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.yaml, err, c.want)
		}
	}
	many := strings.Repeat(`"h:1", `, MaxLuaDBAddresses) + `"h:2"`
	if _, err := Parse([]byte("lua:\n  config:\n    db:\n      allowed_addresses: [" + many + "]\n")); err == nil ||
		!strings.Contains(err.Error(), "lua.config.db.allowed_addresses (line 4): at most 64 addresses, got 65") {
		t.Errorf("65 addresses: %v", err)
	}
}

func TestNormalizeDBAddress(t *testing.T) {
	for in, want := range map[string]string{
		"DB.Example.:3306":                   "db.example:3306",
		"[::FFFF:127.0.0.1]:3306":            "127.0.0.1:3306",
		"[2001:DB8::1]:5432":                 "[2001:db8::1]:5432",
		"/run//mysqld/../mysqld/mysqld.sock": "/run/mysqld/mysqld.sock",
	} {
		if got, ok := NormalizeDBAddress(in); !ok || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "h", ":3306", "h:x", "h:70000", "-h:1", "a/b:1", "[::1%lo]:1", "/a\x00b", strings.Repeat("a", 2000) + ":1"} {
		if got, ok := NormalizeDBAddress(in); ok {
			t.Errorf("%q accepted as %q", in, got)
		}
	}
}
