package lua

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/backline/backline/internal/config"
)

// TestRedisHandleless: every command wrapper answers the same with the
// handle "default", a handle from get_redis_connection, a pool's name and
// no handle at all (the v1.3-1.5 form), on miniredis; a key spelled like a
// connection name is the handle form; type errors still name the function.
func TestRedisHandleless(t *testing.T) {
	m := miniredis.RunT(t)
	tgt := newRedisTarget(t, m.Addr())
	runCorpus(t, redisEngine(t, tgt, "redis_handleless.lua", config.LuaConfig{}), "u")
}

// TestRedisHandlelessCoversEveryWrapper keeps the script above calling
// every command wrapper the module has, so a new one is tested both ways.
func TestRedisHandlelessCoversEveryWrapper(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "modules", "redis_handleless.lua"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range registeredModules {
		if m.Name != redisModule {
			continue
		}
		for name := range m.Functions {
			if name == "get_redis_connection" || name == "register_redis_pool" {
				continue
			}
			if !strings.Contains(string(src), `"`+name+`"`) {
				t.Errorf("redis_handleless.lua does not call %s", name)
			}
		}
	}
}
