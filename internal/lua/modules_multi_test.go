package lua

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
)

func TestContextIsSharedByThePasswordScriptAndTheFiltersOfOneRequest(t *testing.T) {
	e := moduleEngine(t, nil, 0, "ctx_reader.lua")
	dir := modulesDirAbs(t)
	pw, err := e.NewPasswordScript(dir + "/ctx_password.lua")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // the context of one request is gone in the next
		user := fmt.Sprintf("user%d", i)
		req := &Request{Username: user, Authenticated: true}
		if _, err := pw.Verify(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		out, err := e.RunFilters(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if by, _ := logValue(out, "seen_by"); by != "password" {
			t.Errorf("request %d: filter saw %v, want the password script's value", i, by)
		}
		if u, _ := logValue(out, "seen_user"); u != user {
			t.Errorf("request %d: filter saw user %v", i, u)
		}
	}
	// A request whose password script did not run sees an empty context.
	out, err := e.RunFilters(context.Background(), &Request{Username: "x", Authenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	if by, _ := logValue(out, "seen_by"); by != "nobody" {
		t.Errorf("fresh request saw %v", by)
	}
}

func TestContextOfParallelFiltersIsMergedInConfigOrder(t *testing.T) {
	e := moduleEngine(t, nil, 0, "ctx_parallel_a.lua", "ctx_parallel_b.lua")
	for i := range 20 { // whichever filter finishes first
		req := &Request{Username: "alice", Context: NewRequestContext()}
		req.Context.Set("doomed", "x")
		req.Context.Set("facts", map[any]any{"before": "kept"})
		if _, err := e.RunFilters(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		facts, _ := req.Context.Get("facts")
		want := map[any]any{"before": "kept", "from_a": true, "from_b": true,
			"nested": map[any]any{"a": 1.0, "b": 2.0}}
		if diff := cmp.Diff(want, facts); diff != "" {
			t.Fatalf("round %d: facts (-want +got):\n%s", i, diff)
		}
		if w, _ := req.Context.Get("winner"); w != "b" {
			t.Fatalf("round %d: scalar conflict won by %v, want the later filter b", i, w)
		}
		for _, k := range []string{"only_a", "only_b"} {
			if _, ok := req.Context.Get(k); !ok {
				t.Errorf("round %d: %s lost", i, k)
			}
		}
		if _, ok := req.Context.Get("doomed"); ok {
			t.Errorf("round %d: deleted key survived", i)
		}
	}
}

func TestContextIsolatedBetweenConcurrentRequests(t *testing.T) {
	e := moduleEngine(t, nil, 0, "ctx_reader.lua")
	pw, err := e.NewPasswordScript(modulesDirAbs(t) + "/ctx_password.lua")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			user := fmt.Sprintf("u%d", i)
			req := &Request{Username: user, Authenticated: true}
			if _, err := pw.Verify(context.Background(), req); err != nil {
				errs <- err
				return
			}
			out, err := e.RunFilters(context.Background(), req)
			if err != nil {
				errs <- err
				return
			}
			if u, _ := logValue(out, "seen_user"); u != user {
				errs <- fmt.Errorf("request of %s saw %v", user, u)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCacheParallelUpdatesAreExactAndSurviveANewEngine(t *testing.T) {
	host := NewHost()
	e := moduleEngine(t, host, 0, "cache_counter.lua")
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := e.RunFilters(context.Background(), &Request{Username: fmt.Sprintf("u%d", i)}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c := host.cache()
	c.mu.Lock()
	hits := c.lookup("hits").v
	users := c.lookup("users").v.([]any)
	c.mu.Unlock()
	if hits != float64(n) || len(users) != n {
		t.Fatalf("hits %v, users %d; want %d each", hits, len(users), n)
	}

	// A reload builds a new engine on the same Host: the cache is kept, and
	// a table a script changes after cache_get is a copy.
	c.mu.Lock()
	c.store(&cacheEntry{key: "list", v: []any{"a"}, size: 100})
	c.mu.Unlock()
	e2 := moduleEngine(t, host, 0, "cache_reader.lua")
	out, err := e2.RunFilters(context.Background(), &Request{Username: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := logValue(out, "hits"); v != float64(n) {
		t.Errorf("new engine saw hits %v", v)
	}
	c.mu.Lock()
	list := c.lookup("list").v
	c.mu.Unlock()
	if diff := cmp.Diff([]any{"a"}, list); diff != "" {
		t.Errorf("changing a returned table changed the cache: %s", diff)
	}
}

func TestTimeSleepHonoursTheScriptTimeout(t *testing.T) {
	e := moduleEngine(t, nil, 0, "time_sleep_timeout.lua")
	e.timeout = 100 * time.Millisecond
	// The sleep ends at the deadline; on a starved machine the run may
	// notice far later than the 50 ms grace. An hour-long sleep still
	// outlasts 3 s.
	e.abandonGrace = 3 * time.Second
	_, err := e.RunFilters(context.Background(), &Request{Username: "x"})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Timeout {
		t.Fatalf("got %v, want a timeout", err)
	}
	if e.Stats().AbandonedRuns != 0 {
		t.Errorf("the sleeping run was abandoned instead of stopped")
	}
	// No timing threshold: an hour-long sleep that did not end at the
	// deadline would not let the test finish at all.
}

func TestCacheLimitFollowsTheConfigAcrossReloads(t *testing.T) {
	host := NewHost()
	build := func(limit config.ByteSize) {
		e, err := NewEngine(Options{Config: config.Lua{Config: config.LuaConfig{CacheMaxMemory: limit}}, Host: host})
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
	}
	build(1 << 20)
	c := host.cache()
	c.mu.Lock()
	for i := range 100 {
		c.store(&cacheEntry{key: fmt.Sprint(i), v: "x", size: 10 << 10})
	}
	c.mu.Unlock()
	build(64 << 10) // a reload with a smaller bound: the next write evicts
	c.mu.Lock()
	c.store(&cacheEntry{key: "new", v: "x", size: 10 << 10})
	size, max := c.size, c.max
	c.mu.Unlock()
	if max != 64<<10 || size > max {
		t.Errorf("after the reload: %d bytes held, bound %d", size, max)
	}
	build(0) // not configured (lua test, unit tests): keep what is set
	if c.max != 64<<10 {
		t.Errorf("an engine without the setting changed the bound to %d", c.max)
	}
}

func TestCacheUpdateReleasesTheKeyAtTheTimeout(t *testing.T) {
	host := NewHost()
	stuck := moduleEngine(t, host, 0, "cache_update_stuck.lua")
	stuck.timeout = 100 * time.Millisecond
	// The sleep ends at the deadline and the update releases its key as
	// the run ends; a run the starved machine let notice after the 50 ms
	// grace would be abandoned with the key still held. An
	// hour-long sleep still outlasts 3 s.
	stuck.abandonGrace = 3 * time.Second
	_, err := stuck.RunFilters(context.Background(), &Request{Username: "x"})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Timeout {
		t.Fatalf("got %v, want a timeout", err)
	}
	// The key is free again: an update of it by another request completes
	// (it would wait for its own script_timeout otherwise).
	e := moduleEngine(t, host, 0, "cache_counter.lua")
	c := host.cache()
	c.mu.Lock()
	_, busy := c.busy["stuck"]
	c.mu.Unlock()
	if busy {
		t.Fatal("the timed-out update still holds its key")
	}
	if _, err := e.RunFilters(context.Background(), &Request{Username: "y"}); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	_, stored := c.entries["stuck"]
	c.mu.Unlock()
	if stored {
		t.Error("the timed-out update stored a value")
	}
}
