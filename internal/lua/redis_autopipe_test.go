package lua

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
)

// Many runs at once on the default connection: each gets its own replies
// (the batcher pipelines their commands), misses stay "redis: nil", and
// the commands travel in fewer round trips than there are commands.
func TestConcurrentRunsShareRedisRoundTrips(t *testing.T) {
	eachRedis(t, func(t *testing.T, tgt *redisTarget) {
		var pipelines, single sync.Map
		tgt.client.AddHook(countHook{pipelines: &pipelines, single: &single})
		src := `local redis = require("nauthilus_redis")
function nauthilus_call_filter(request)
  local key = "{{PREFIX}}" .. request.username
  local v, err = redis.redis_hget("default", key, "imap")
  if v ~= nil or err ~= "redis: nil" then error("first read: " .. tostring(v) .. " " .. tostring(err)) end
  redis.redis_hset("default", key, "imap", request.username .. "-backend")
  v, err = redis.redis_hget("default", key, "imap")
  if v ~= request.username .. "-backend" then error("read back: " .. tostring(v) .. " " .. tostring(err)) end
  nauthilus_builtin.custom_log_add("got", v)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
		e := redisEngine(t, tgt, writeModuleScript(t, "batch.lua", strings.ReplaceAll(src, "{{PREFIX}}", tgt.prefix)), config.LuaConfig{VMPoolSize: 32})
		const runs = 64
		var wg sync.WaitGroup
		errs := make(chan error, runs)
		for i := range runs {
			wg.Go(func() {
				user := fmt.Sprintf("user%d", i)
				out, err := e.RunFilters(context.Background(), &Request{Username: user})
				if err != nil {
					errs <- err
					return
				}
				if got, _ := logValue(out, "got"); got != user+"-backend" {
					errs <- fmt.Errorf("%s got %v", user, got)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		n := 0
		pipelines.Range(func(_, v any) bool { n += v.(int); return true })
		if n == 0 || n >= 3*runs {
			t.Errorf("%d pipelines for %d commands: nothing was batched", n, 3*runs)
		}
		t.Logf("%d commands in %d pipelines", 3*runs, n)
	})
}

// A run whose context ends while its command waits in the queue gets the
// context's error, and the command is never sent.
func TestBatchedCommandLeavesTheQueueOnCancel(t *testing.T) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	b := newCmdBatcher(c, nil)
	b.flights.Max = 0 // no flight may start: the command queues
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- b.run(ctx, 0, func(p redis.Pipeliner) redis.Cmder { return p.Set(ctx, "k", "v", 0) })
	}()
	for {
		if b.flights.Queued() == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if n := b.flights.Queued(); n != 0 || m.Exists("k") {
		t.Errorf("queue %d, key written %v", n, m.Exists("k"))
	}
}

// A connection failure (here a refused AUTH) reaches every command of the
// pipeline, not only Exec.
func TestBatchedCommandsGetTheConnectionError(t *testing.T) {
	m := miniredis.RunT(t)
	m.RequireAuth("right")
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), Password: "wrong", MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	b := newCmdBatcher(c, nil)
	var cmd *redis.StringCmd
	if err := b.run(context.Background(), 0, func(p redis.Pipeliner) redis.Cmder { cmd = p.Get(context.Background(), "k"); return cmd }); err != nil {
		t.Fatal(err)
	}
	if cmd.Err() == nil || errors.Is(cmd.Err(), redis.Nil) {
		t.Errorf("command error %v, want the AUTH failure", cmd.Err())
	}
}

type countHook struct{ pipelines, single *sync.Map }

func (countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		v, _ := h.single.LoadOrStore(cmd.Name(), 0)
		h.single.Store(cmd.Name(), v.(int)+1)
		return next(ctx, cmd)
	}
}
func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	var mu sync.Mutex
	return func(ctx context.Context, cmds []redis.Cmder) error {
		mu.Lock()
		v, _ := h.pipelines.LoadOrStore("n", 0)
		h.pipelines.Store("n", v.(int)+1)
		mu.Unlock()
		return next(ctx, cmds)
	}
}
