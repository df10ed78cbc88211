package lua

import (
	"testing"

	"github.com/backline/backline/internal/config"
)

// hostSettingsOf is what h runs with: nauthilus_cache's bound, the Redis
// reply guard's limit and the number of password hash workers.
func hostSettingsOf(h *Host) [3]int64 {
	c := h.cache()
	c.mu.Lock()
	defer c.mu.Unlock()
	return [3]int64{c.max, h.RedisReplyGuard().Limit(), hashPoolOf(h).workers()}
}

// An Engine built with DeferHostSettings on a shared Host (the daemon's
// reload) changes none of the Host's settings until ApplyHostSettings, so
// a reload that fails after building it changes nothing; one built
// without it, or on a private Host, applies them at once.
func TestDeferHostSettingsUntilApplied(t *testing.T) {
	lc := func(cache, mem config.ByteSize, workers int) config.Lua {
		return config.Lua{Config: config.LuaConfig{CacheMaxMemory: cache, MaxMemory: mem, PasswordHashWorkers: workers}}
	}
	host := NewHost()
	first, err := NewEngine(Options{Config: lc(1<<20, 16<<20, 3), Host: host})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	running := [3]int64{1 << 20, 16 << 20, 3}
	if got := hostSettingsOf(host); got != running {
		t.Fatalf("first engine: %v, want %v", got, running)
	}

	next, err := NewEngine(Options{Config: lc(64<<10, 32<<20, 5), Host: host, DeferHostSettings: true})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if got := hostSettingsOf(host); got != running {
		t.Errorf("deferred engine built: %v, want the running %v", got, running)
	}
	next.ApplyHostSettings()
	if got, want := hostSettingsOf(host), [3]int64{64 << 10, 32 << 20, 5}; got != want {
		t.Errorf("applied: %v, want %v", got, want)
	}

	private, err := NewEngine(Options{Config: lc(2<<20, 8<<20, 7), DeferHostSettings: true})
	if err != nil {
		t.Fatal(err)
	}
	defer private.Close()
	if got, want := hostSettingsOf(private.host), [3]int64{2 << 20, 8 << 20, 7}; got != want {
		t.Errorf("private Host: %v, want %v (nothing else would apply them)", got, want)
	}
}
