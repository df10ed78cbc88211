package lua

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
)

// A test-only module reporting what the run last measured.
func init() {
	registerModule(module{Name: "backline_test_run", Filter: true, NotGlobal: true, Functions: map[string]runFunc{
		"measured": func(r *scriptRun, L *glua.LState) int {
			L.Push(glua.LNumber(r.measured.Load()))
			return 1
		},
		"walks": func(r *scriptRun, L *glua.LState) int {
			L.Push(glua.LNumber(r.walks))
			return 1
		},
	}})
}

// slowRedis answers HELLO with an error (so the client speaks RESP2) and
// every other command with +PONG after delay (the client must set
// DisableIdentity).
func slowRedis(t *testing.T, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				rd := bufio.NewReader(c)
				for {
					line, err := rd.ReadString('\n')
					if err != nil {
						return
					}
					if !strings.HasPrefix(line, "*") {
						continue
					}
					// Skip the array's bulk strings: 2 lines per element.
					n := 0
					for _, ch := range strings.TrimSpace(line[1:]) {
						n = n*10 + int(ch-'0')
					}
					var first string
					for i := range 2 * n {
						arg, err := rd.ReadString('\n')
						if err != nil {
							return
						}
						if i == 1 {
							first = strings.ToUpper(strings.TrimSpace(arg))
						}
					}
					if first == "HELLO" {
						if _, err := c.Write([]byte("-ERR unknown command 'HELLO'\r\n")); err != nil {
							return
						}
						continue
					}
					time.Sleep(delay)
					if _, err := c.Write([]byte("+PONG\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A run waiting on Redis longer than the watchdog's tick is not asked to
// walk its state when the reply comes: it built nothing meanwhile. Three
// 15 ms waits under a 2 ms tick were three walks before the exemption;
// one is allowed, from a tick before the first wait (a slow start on a
// loaded machine), which legitimately stands across it.
func TestRedisWaitIsNotMeasured(t *testing.T) {
	addr := slowRedis(t, 15*time.Millisecond)
	client := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true,
		DialTimeout: config.DefaultRedisDialTimeout, ReadTimeout: config.DefaultRedisReadTimeout,
		WriteTimeout: config.DefaultRedisWriteTimeout, PoolTimeout: config.DefaultRedisPoolTimeout})
	t.Cleanup(func() { client.Close() })
	src := `local redis = require("nauthilus_redis")
local probe = require("backline_test_run")
function nauthilus_call_filter(request)
  local before = probe.walks()
  for i = 1, 3 do
    local v, err = redis.redis_ping("default")
    if v ~= "PONG" then error("ping: " .. tostring(err)) end
  end
  nauthilus_builtin.custom_log_add("walks", probe.walks() - before)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	tgt := &redisTarget{addr: addr, client: client}
	e := redisEngine(t, tgt, writeModuleScript(t, "wait.lua", src), config.LuaConfig{})
	// The first run warms the state (chunk, modules, the connection).
	if _, err := e.RunFilters(context.Background(), &Request{Username: "u"}); err != nil {
		t.Fatal(err)
	}
	ticks := e.watch.ticks.Load()
	out, err := e.RunFilters(context.Background(), &Request{Username: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if e.watch.ticks.Load() == ticks {
		t.Fatal("the watchdog never ticked during a 45 ms run")
	}
	walks, _ := logValue(out, "walks")
	if n, err := strconv.ParseFloat(fmt.Sprint(walks), 64); err != nil || n > 1 {
		t.Errorf("the run walked its state %v times across three 15 ms Redis waits; want at most 1", walks)
	}
}
