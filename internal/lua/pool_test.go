package lua

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

func TestGlobalsDoNotLeakBetweenRequests(t *testing.T) {
	src := `
seen_before = seen_before
function nauthilus_call_filter(request)
  local leaked = (seen_before ~= nil) or (rawget(_G, "via_G") ~= nil)
  seen_before = true
  _G.via_G = true
  nauthilus_backend.leak = true
  nauthilus_builtin.custom_log_add("leaked", leaked or (nauthilus_backend.leak_seen == true))
  nauthilus_backend.leak_seen = true
  return false, 0
end`
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", src)}, cfg: config.LuaConfig{VMPoolSize: 1}})
	var first *vm
	for i := range 3 {
		out, err := e.RunFilters(context.Background(), &Request{})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := logValue(out, "leaked"); v != false {
			t.Fatalf("request %d saw state of an earlier one", i)
		}
		if i == 0 {
			first = e.pool.idle[0]
		} else if e.pool.idle[0] != first {
			t.Fatalf("state was not reused after a clean run")
		}
	}
}

func TestStateIsReplacedAfterAnError(t *testing.T) {
	src := `
function nauthilus_call_filter(request)
  if request.username == "boom" then error("boom") end
  return false, 0
end`
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", src)}, cfg: config.LuaConfig{VMPoolSize: 1}})
	if _, err := e.RunFilters(context.Background(), &Request{Username: "ok"}); err != nil {
		t.Fatal(err)
	}
	before := e.pool.idle[0]
	if _, err := e.RunFilters(context.Background(), &Request{Username: "boom"}); err == nil {
		t.Fatal("expected an error")
	}
	if e.pool.idleCount() != 0 {
		t.Fatalf("broken state went back to the pool")
	}
	if _, err := e.RunFilters(context.Background(), &Request{Username: "ok"}); err != nil {
		t.Fatal(err)
	}
	if e.pool.idle[0] == before {
		t.Fatal("broken state was reused")
	}
}

func TestTimeoutFailsOnlyThatRequest(t *testing.T) {
	src := `
function nauthilus_call_filter(request)
  if request.username == "loop" then while true do end end
  return false, 0
end`
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "spin", src)},
		cfg: config.LuaConfig{VMPoolSize: 1, ScriptTimeout: 50 * time.Millisecond}})
	_, err := e.RunFilters(context.Background(), &Request{Username: "loop"})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Timeout || se.Script != "spin" {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(logs.String(), "timed out") {
		t.Errorf("log:\n%s", logs)
	}
	nextRequestGetsTheState(t, e, "spin") // 50 ms for a fresh state: tried again on a slow machine
}

func TestAcquireGivesUpWithTheContext(t *testing.T) {
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", "function nauthilus_call_filter() return false, 0 end")},
		cfg: config.LuaConfig{VMPoolSize: 1}})
	held, err := e.pool.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.RunFilters(ctx, &Request{})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Canceled {
		t.Fatalf("err = %v", err)
	}
	e.pool.release(held, false)
}

const hashSelectScript = `
function nauthilus_call_filter(request)
  local servers = nauthilus_backend.get_backend_servers()
  local h = 0
  for i = 1, #request.username do h = (h * 31 + string.byte(request.username, i)) % 2147483647 end
  local s = servers[(h % #servers) + 1]
  nauthilus_backend.select_backend_server(s.host, s.port)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`

func hashSelected(username string, n int) int {
	h := 0
	for i := 0; i < len(username); i++ {
		h = (h*31 + int(username[i])) % 2147483647
	}
	return h % n
}

func tenTargets() StaticSource {
	var src StaticSource
	var backends []health.Backend
	for i := range 10 {
		backends = append(backends, mail(target(fmt.Sprintf("t%d", i), fmt.Sprintf("10.0.1.%d", i), 143), true))
	}
	src = snapshotOf(backends...)
	return src
}

func TestConcurrentRequestsAcrossSmallPool(t *testing.T) {
	e, _ := newEngine(t, engineSetup{
		filters: []config.LuaFilter{filter(t, "hash", hashSelectScript), filter(t, "second", "function nauthilus_call_filter(r) return false, 0 end")},
		cfg:     config.LuaConfig{VMPoolSize: 4},
		health:  tenTargets(),
	})
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("user%d-%d", i, crc32.ChecksumIEEE([]byte{byte(i)}))
			out, err := e.RunFilters(context.Background(), &Request{Username: user, Authenticated: true})
			if err != nil {
				errs <- err
				return
			}
			want := fmt.Sprintf("10.0.1.%d", hashSelected(user, 10))
			if out.Selected == nil || out.Selected.Host != want {
				errs <- fmt.Errorf("%s: selected %+v, want %s", user, out.Selected, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.pool.idleCount(); n > 4 {
		t.Errorf("pool holds %d states, limit 4", n)
	}
}
