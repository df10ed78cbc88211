package config

import (
	"strings"
	"testing"
)

func TestLuaCacheMaxMemory(t *testing.T) {
	c, err := Parse([]byte("lua:\n  config:\n    cache_max_memory: 8MiB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Lua.Config.CacheMaxMemory != 8<<20 {
		t.Errorf("cache_max_memory = %s", c.Lua.Config.CacheMaxMemory)
	}
	c, err = Parse([]byte("lua:\n  config:\n    vm_pool_size: 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Lua.Config.CacheMaxMemory != DefaultLuaCacheMaxMemory {
		t.Errorf("default = %s", c.Lua.Config.CacheMaxMemory)
	}
	for _, tc := range []struct{ value, want string }{
		{"0", "lua.config.cache_max_memory (line 3): must be between 64KiB and 16GiB, got 0B"},
		{"1k", "lua.config.cache_max_memory (line 3): must be between 64KiB and 16GiB, got 1KiB"},
		{"17GiB", "lua.config.cache_max_memory (line 3): must be between 64KiB and 16GiB, got 17GiB"},
		{"lots", "lua.config.cache_max_memory (line 3): must be a size"},
	} {
		_, err := Parse([]byte("lua:\n  config:\n    cache_max_memory: " + tc.value + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.value, err, tc.want)
		}
	}
}
