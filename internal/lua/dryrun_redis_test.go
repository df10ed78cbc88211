package lua

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// redisSnapshot is every key under the test's prefix with its value and
// whether it has a TTL.
func redisSnapshot(t *testing.T, tgt *redisTarget) string {
	t.Helper()
	ctx := context.Background()
	c := tgt.client
	keys, err := c.Keys(ctx, tgt.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		var v any
		switch typ := c.Type(ctx, k).Val(); typ {
		case "string":
			v = c.Get(ctx, k).Val()
		case "hash":
			v = c.HGetAll(ctx, k).Val()
		case "set":
			m := c.SMembers(ctx, k).Val()
			slices.Sort(m)
			v = m
		case "list":
			v = c.LRange(ctx, k, 0, -1).Val()
		default:
			v = typ
		}
		out = append(out, fmt.Sprintf("%s=%v ttl=%v", strings.TrimPrefix(k, tgt.prefix), v, c.TTL(ctx, k).Val() > 0))
	}
	return strings.Join(out, " ")
}

// A dry run of a filter writing to Redis sends no write (the keys are
// unchanged) while its reads see the real values; a real run writes.
func TestDryRunSendsNoRedisWrite(t *testing.T) {
	eachRedis(t, func(t *testing.T, tgt *redisTarget) {
		ctx := context.Background()
		tgt.client.Set(ctx, tgt.prefix+"count", "3", 0)
		tgt.client.RPush(ctx, tgt.prefix+"list", "old")
		e := redisEngine(t, tgt, "dryrun_redis.lua", config.LuaConfig{})
		run := func(dry bool) *FilterOutcome {
			t.Helper()
			out, err := e.RunFilters(ctx, &Request{Username: "alice", DryRun: dry})
			if err != nil {
				t.Fatal(err)
			}
			if mode, _ := logValue(out, "mode"); mode != map[bool]string{true: "dry", false: "real"}[dry] {
				t.Fatalf("the script saw a %v run", mode)
			}
			return out
		}
		before := redisSnapshot(t, tgt)
		out := run(true)
		if after := redisSnapshot(t, tgt); after != before {
			t.Errorf("a dry run changed Redis:\n%s\n%s", before, after)
		}
		var want []string
		for _, fn := range []string{"redis_set", "redis_incr", "redis_hincrby", "redis_expire", "redis_sadd", "redis_lpush",
			"redis_rpop", "redis_upload_script", "redis_run_script", "redis_pipeline", "redis_del"} {
			want = append(want, "dryrun_redis: nauthilus_redis."+fn)
		}
		if !slices.Equal(out.Suppressed, want) {
			t.Errorf("suppressed:\n%q\nwant\n%q", out.Suppressed, want)
		}
		run(false)
		if got, want := redisSnapshot(t, tgt),
			"count=4 ttl=true hash=map[f:5] ttl=false list=[x] ttl=false piped=1 ttl=false scripted=y ttl=false set=[alice] ttl=false"; got != want {
			t.Errorf("after a real run:\n%s\nwant\n%s", got, want)
		}
	})
}
