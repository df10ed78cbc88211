package state

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Review tests of the uptime stores (h-history).

// onUptimeBackends runs f on miniredis and, with the fixture, real Redis.
func onUptimeBackends(t *testing.T, f func(t *testing.T, b storeBackend)) {
	self := func(t *testing.T, b storeBackend) storeBackend { return b }
	t.Run("miniredis", func(t *testing.T) { f(t, onMiniredis(self)(t)) })
	t.Run("real", func(t *testing.T) { f(t, onRealRedis(t, self)(t)) })
	t.Run("cluster", func(t *testing.T) { f(t, onCluster(t, self)(t)) })
}

func reviewRedisUptime(t *testing.T, b storeBackend) (*RedisUptimeStore, *[]string) {
	s := NewRedisUptimeStore(b.client(), b.prefix)
	s.now = b.now
	var mu sync.Mutex
	warned := &[]string{}
	s.OnCorrupt = func(key string, err error) {
		mu.Lock()
		*warned = append(*warned, key)
		mu.Unlock()
	}
	return s, warned
}

// TestReviewRedisUptimeExpiry: every hash carries the expiry of its last
// bucket, including one whose stored value won the compare (the script's
// early return) after something took its TTL away (PERSIST, a copy made
// with RESTORE without TTL): "each hash expires" in scaling.md.
func TestReviewRedisUptimeExpiry(t *testing.T) {
	onUptimeBackends(t, func(t *testing.T, b storeBackend) {
		ctx := context.Background()
		s, _ := reviewRedisUptime(t, b)
		raw := b.client()
		now := b.now()
		m, h := minuteBucket(now, 30*time.Second, 0), hourBucket(now, 30*time.Second, 0)
		if err := s.Save(ctx, []UptimeRecord{{ID: "a", Buckets: []UptimeBucket{m, h}}}); err != nil {
			t.Fatal(err)
		}
		for _, bk := range []UptimeBucket{m, h} {
			key, _, expireAt := s.uptimeKey("a", bk)
			ttl := raw.PTTL(ctx, key).Val()
			want := expireAt.Sub(now)
			if ttl <= 0 || ttl > want+time.Second || ttl < want-time.Minute {
				t.Errorf("%s: TTL %v, want about %v", key, ttl, want)
			}
			raw.Persist(ctx, key)
		}
		// A smaller view: the stored value stays, and so must the expiry.
		smaller := []UptimeBucket{minuteBucket(now, time.Second, 0), hourBucket(now, time.Second, 0)}
		if err := s.Save(ctx, []UptimeRecord{{ID: "a", Buckets: smaller}}); err != nil {
			t.Fatal(err)
		}
		for _, bk := range smaller {
			key, _, _ := s.uptimeKey("a", bk)
			if ttl := raw.PTTL(ctx, key).Val(); ttl <= 0 {
				t.Errorf("%s: TTL %v after a save: never expires", key, ttl)
			}
		}
	})
}

// TestReviewRedisUptimeRemovedBackendExpires: nothing of a backend that is
// no longer saved is left after the retention of the last bucket its
// hashes can hold (miniredis's clock). The first version of this test
// expected the week of the docs ("gone a week later") and failed after
// midnight: an hour hash lives until 7 d 2 h after 23:00 of its day.
func TestReviewRedisUptimeRemovedBackendExpires(t *testing.T) {
	ctx := context.Background()
	self := func(t *testing.T, b storeBackend) storeBackend { return b }
	b := onMiniredis(self)(t)
	s, _ := reviewRedisUptime(t, b)
	now := b.now()
	var bs []UptimeBucket
	for i := range 90 {
		bs = append(bs, minuteBucket(now.Add(-time.Duration(i)*time.Minute), time.Minute, 0))
	}
	for i := range 7 * 24 {
		bs = append(bs, hourBucket(now.Add(-time.Duration(i)*time.Hour), time.Hour, 0))
	}
	if err := s.Save(ctx, []UptimeRecord{{ID: "gone", Buckets: bs}}); err != nil {
		t.Fatal(err)
	}
	raw := b.client()
	if n := len(raw.Keys(ctx, b.prefix+"*").Val()); n == 0 || n > 12 {
		t.Fatalf("%d keys for one backend, want 1..12", n)
	}
	b.advance(UptimeMinutesKept + time.Hour)
	for _, k := range raw.Keys(ctx, b.prefix+"*").Val() {
		if strings.Contains(k, ":m:") {
			t.Errorf("minute hash %s outlived its retention", k)
		}
	}
	// An hour hash expires with the last hour of its day: up to 23 h
	// after the newest hour saved in it.
	b.advance(UptimeHoursKept + 22*time.Hour)
	if keys := raw.Keys(ctx, b.prefix+"*").Val(); len(keys) != 0 {
		t.Errorf("keys left 8 days and 1 hour after the last save: %v", keys)
	}
}

// TestReviewRedisUptimeHostileValues: values another program wrote are
// never applied on Load and always replaced on Save (the Lua compare and
// the Go parser agree on what a value is).
func TestReviewRedisUptimeHostileValues(t *testing.T) {
	values := []string{"-5:0", "5:-0", "nan:0", "NaN:NaN", "inf:0", "1e3:0", "0x10:0", "+5:0", " 5:0", "5:0 ", "5:0\n",
		"", ":", "5:", ":5", "5", "5:5:5", "１:0", "99999999999999999999:0", "4294967295:4294967295", "60001:0", "30001:30000",
		"9223372036854775807:1", strings.Repeat("0", 31) + "1:0x", "\x00:\x00"}
	onUptimeBackends(t, func(t *testing.T, b storeBackend) {
		ctx := context.Background()
		s, warned := reviewRedisUptime(t, b)
		raw := b.client()
		now := b.now()
		for i, v := range values {
			id := fmt.Sprintf("h%d", i)
			bk := minuteBucket(now, time.Second, 0)
			key, field, _ := s.uptimeKey(id, bk)
			raw.HSet(ctx, key, field, v)
			got, err := s.Load(ctx, []string{id})
			if err != nil {
				t.Fatalf("%q: Load: %v", v, err)
			}
			if len(got[id]) != 0 {
				t.Errorf("%q loaded as %+v", v, got[id])
			}
			if err := s.Save(ctx, []UptimeRecord{{ID: id, Buckets: []UptimeBucket{bk}}}); err != nil {
				t.Fatalf("%q: Save: %v", v, err)
			}
			if after := raw.HGet(ctx, key, field).Val(); after != "1000:0" {
				t.Errorf("%q: a save left %q, want it replaced by 1000:0", v, after)
			}
		}
		if len(*warned) < len(values)-1 { // "" and "0:0"-like may be plain absent
			t.Errorf("warned %d times for %d junk values", len(*warned), len(values))
		}
	})
}

// TestReviewRedisUptimeScriptFlushed: a Redis that lost its scripts (a
// restart, a failover, SCRIPT FLUSH) still takes the next save.
func TestReviewRedisUptimeScriptFlushed(t *testing.T) {
	onUptimeBackends(t, func(t *testing.T, b storeBackend) {
		ctx := context.Background()
		s, _ := reviewRedisUptime(t, b)
		now := b.now()
		if err := s.Save(ctx, []UptimeRecord{{ID: "a", Buckets: []UptimeBucket{minuteBucket(now, time.Second, 0)}}}); err != nil {
			t.Fatal(err)
		}
		b.client().ScriptFlush(ctx) // the fixture is this worktree's own
		if err := s.Save(ctx, []UptimeRecord{{ID: "a", Buckets: []UptimeBucket{minuteBucket(now, 2*time.Second, 0)}}}); err != nil {
			t.Fatalf("save after SCRIPT FLUSH: %v", err)
		}
		got, _ := s.Load(ctx, []string{"a"})
		if len(got["a"]) != 1 || got["a"][0].Up != 2*time.Second {
			t.Fatalf("after SCRIPT FLUSH: %+v", got["a"])
		}
	})
}

// TestReviewRedisUptimeConcurrentMax: instances saving views of one bucket
// at the same time leave the largest (the compare and the write are one
// script).
func TestReviewRedisUptimeConcurrentMax(t *testing.T) {
	onUptimeBackends(t, func(t *testing.T, b storeBackend) {
		ctx := context.Background()
		now := b.now()
		var wg sync.WaitGroup
		for i := range 8 {
			s, _ := reviewRedisUptime(t, b)
			wg.Go(func() {
				for j := range 50 {
					up := time.Duration((i*50+j)*7%400+1) * 100 * time.Millisecond
					if err := s.Save(ctx, []UptimeRecord{{ID: "a", Buckets: []UptimeBucket{minuteBucket(now, min(up, time.Minute), 0)}}}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		s, _ := reviewRedisUptime(t, b)
		got, _ := s.Load(ctx, []string{"a"})
		if len(got["a"]) != 1 || got["a"][0].Up != 40*time.Second {
			t.Fatalf("after concurrent saves: %+v, want the largest view, 40 s", got["a"])
		}
	})
}

// TestReviewRedisUptimeKeysHoldNoSecrets: an ID that is not a plain token
// (spaces, braces, control characters, or long) is hashed in the key.
func TestReviewRedisUptimeKeysHoldNoSecrets(t *testing.T) {
	s := NewRedisUptimeStore(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), "p:")
	for _, id := range []string{"a b", "x{y}", "pw\x00secret", strings.Repeat("s", 200)} {
		key, _, _ := s.uptimeKey(id, UptimeBucket{Start: time.Unix(3600, 0), Span: time.Hour})
		if strings.Contains(key, id) || strings.Count(key, "{") != 1 || strings.Count(key, "}") != 1 {
			t.Errorf("ID %q gives key %q", id, key)
		}
	}
}

// TestReviewMemoryUptimeChurn: backends that come and go (reloads with new
// IDs) are forgotten once their buckets are past retention; it reports
// the store's memory at 10,000 backends.
func TestReviewMemoryUptimeChurn(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	m := NewMemoryUptimeStore(clock.Now)
	const n = 10_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for round := range 3 {
		records := make([]UptimeRecord, n)
		for i := range records {
			records[i] = UptimeRecord{ID: fmt.Sprintf("r%d-b%d", round, i),
				Buckets: []UptimeBucket{minuteBucket(clock.Now(), time.Second, 0), hourBucket(clock.Now(), time.Second, 0)}}
		}
		if err := m.Save(ctx, records); err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			runtime.GC()
			runtime.ReadMemStats(&after)
			t.Logf("memory uptime store: %.1f MB for %d backends", float64(after.HeapAlloc-before.HeapAlloc)/1e6, n)
		}
		clock.Advance(time.Hour)
	}
	clock.Advance(UptimeHoursKept)
	if err := m.Save(ctx, []UptimeRecord{{ID: "still", Buckets: []UptimeBucket{minuteBucket(clock.Now(), time.Second, 0)}}}); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	left := len(m.backends)
	m.mu.Unlock()
	if left != 1 {
		t.Errorf("%d backends kept a week after they went, want only the one still saved", left)
	}
}

// TestReviewRedisUptimeBigSave measures (logs, asserts nothing timed; run
// with BACKLINE_MEASURE=1 and the fixture) one
// Save after an hour without Redis at 10,000 backends: 61 minute and 2
// hour buckets each, about 630,000 script calls in one pipeline, against
// the engine's 5 s per save (health.uptimeOpTimeout).
func TestReviewRedisUptimeBigSave(t *testing.T) {
	if os.Getenv("BACKLINE_MEASURE") == "" {
		t.Skip("a measurement of several seconds: BACKLINE_MEASURE=1 with the fixture")
	}
	for _, size := range []struct{ backends, minutes, hours int }{{10_000, 2, 1}, {1_000, 61, 2}, {10_000, 61, 2}} {
		b := onRealRedis(t, func(t *testing.T, b storeBackend) storeBackend { return b })(t)
		s, _ := reviewRedisUptime(t, b)
		now := b.now()
		records := make([]UptimeRecord, size.backends)
		for i := range records {
			var bs []UptimeBucket
			for m := range size.minutes {
				bs = append(bs, minuteBucket(now.Add(-time.Duration(m)*time.Minute), time.Minute, 0))
			}
			for h := range size.hours {
				bs = append(bs, hourBucket(now.Add(-time.Duration(h)*time.Hour), time.Hour, 0))
			}
			records[i] = UptimeRecord{ID: fmt.Sprintf("backend-%05d", i), Buckets: bs}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		err := s.Save(ctx, records)
		cancel()
		t.Logf("Save of %d backends x %d buckets: %v (error: %v)", size.backends, size.minutes+size.hours, time.Since(start), err)
		ids := make([]string, len(records))
		for i, r := range records {
			ids[i] = r.ID
		}
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		start = time.Now()
		got, err := s.Load(ctx, ids)
		cancel()
		t.Logf("Load of %d backends: %v, %d loaded (error: %v)", len(ids), time.Since(start), len(got), err)
	}
}

// TestReviewRedisUptimeSaveAcrossPipelines: a save of more calls than one
// pipeline stores them all, also when Redis lost its scripts.
func TestReviewRedisUptimeSaveAcrossPipelines(t *testing.T) {
	ctx := context.Background()
	b := onMiniredis(func(t *testing.T, b storeBackend) storeBackend { return b })(t)
	s, warned := reviewRedisUptime(t, b)
	now := b.now()
	var records []UptimeRecord
	var ids []string
	for i := range 2*uptimeSavePipeline/3 + 5 {
		id := fmt.Sprintf("b%d", i)
		ids = append(ids, id)
		records = append(records, UptimeRecord{ID: id, Buckets: []UptimeBucket{
			minuteBucket(now, time.Second, 0), minuteBucket(now.Add(-time.Minute), time.Second, 0), hourBucket(now, 2*time.Second, 0)}})
	}
	b.client().ScriptFlush(ctx)
	if err := s.Save(ctx, records); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if len(got[id]) != 3 {
			t.Fatalf("%s: %d buckets loaded, want 3", id, len(got[id]))
		}
	}
	if len(*warned) != 0 {
		t.Fatalf("warned: %v", *warned)
	}
}
