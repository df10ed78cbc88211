package state

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// uptimeHarness is one UptimeStore implementation under test: open returns
// another instance's handle on the same history; now and advance are the
// store's clock (advance is nil on a real server, whose clock cannot move).
type uptimeHarness struct {
	open    func() UptimeStore
	now     func() time.Time
	advance func(time.Duration)
}

func uptimeOn(t *testing.T, b storeBackend) uptimeHarness {
	h := uptimeHarness{now: b.now,
		open: openOn(b, func(now func() time.Time) UptimeStore { return NewMemoryUptimeStore(now) },
			func(c redis.UniversalClient, prefix string) UptimeStore {
				s := NewRedisUptimeStore(c, prefix)
				s.now = b.now
				s.OnCorrupt = func(key string, err error) { t.Errorf("corrupt %s: %v", key, err) }
				return s
			})}
	if !b.real {
		h.advance = b.advance
	}
	return h
}

func TestMemoryUptimeStoreSuite(t *testing.T)         { runUptimeStoreSuite(t, onMemory(uptimeOn)) }
func TestRedisUptimeStoreSuiteMiniredis(t *testing.T) { runUptimeStoreSuite(t, onMiniredis(uptimeOn)) }
func TestRedisUptimeStoreSuiteRealRedis(t *testing.T) {
	runUptimeStoreSuite(t, onRealRedis(t, uptimeOn))
}
func TestRedisUptimeStoreSuiteCluster(t *testing.T) { runUptimeStoreSuite(t, onCluster(t, uptimeOn)) }

func minuteBucket(start time.Time, up, down time.Duration) UptimeBucket {
	return UptimeBucket{Start: start.Truncate(time.Minute).UTC(), Span: time.Minute, Up: up, Down: down}
}

func hourBucket(start time.Time, up, down time.Duration) UptimeBucket {
	return UptimeBucket{Start: start.Truncate(time.Hour).UTC(), Span: time.Hour, Up: up, Down: down}
}

func sortedBuckets(bs []UptimeBucket) []UptimeBucket {
	out := slices.Clone(bs)
	slices.SortFunc(out, func(a, b UptimeBucket) int {
		if a.Span != b.Span {
			return int(a.Span - b.Span)
		}
		return a.Start.Compare(b.Start)
	})
	return out
}

func runUptimeStoreSuite(t *testing.T, newHarness func(t *testing.T) uptimeHarness) {
	ctx := context.Background()
	save := func(t *testing.T, s UptimeStore, id string, bs ...UptimeBucket) {
		t.Helper()
		if err := s.Save(ctx, []UptimeRecord{{ID: id, Buckets: bs}}); err != nil {
			t.Fatalf("Save(%q): %v", id, err)
		}
	}
	load := func(t *testing.T, s UptimeStore, ids ...string) map[string][]UptimeBucket {
		t.Helper()
		got, err := s.Load(ctx, ids)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		for id := range got {
			got[id] = sortedBuckets(got[id])
		}
		return got
	}

	t.Run("saved buckets load back, by ID", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.open(), h.open()
		now := h.now()
		want := []UptimeBucket{
			minuteBucket(now.Add(-2*time.Minute), 40*time.Second, 20*time.Second),
			minuteBucket(now, 1500*time.Millisecond, 0),
			hourBucket(now.Add(-30*time.Hour), 50*time.Minute, 10*time.Minute),
			hourBucket(now, 2*time.Minute, time.Second),
		}
		save(t, a, "imap-1", want...)
		save(t, a, "imap-2", minuteBucket(now, 0, time.Second))
		got := load(t, b, "imap-1", "pop3-1")
		if !slices.Equal(got["imap-1"], sortedBuckets(want)) {
			t.Fatalf("imap-1 = %v\nwant %v", got["imap-1"], sortedBuckets(want))
		}
		if _, ok := got["pop3-1"]; ok || len(got) != 1 {
			t.Fatalf("loaded %v, want imap-1 only", got)
		}
	})

	t.Run("the view with more checked time wins, never a sum", func(t *testing.T) {
		h := newHarness(t)
		a, b, c := h.open(), h.open(), h.open()
		now := h.now()
		save(t, a, "web-1", minuteBucket(now, 30*time.Second, 10*time.Second), hourBucket(now, 20*time.Minute, 0))
		// Another instance's view with less checked time changes nothing,
		// even with more up time.
		save(t, b, "web-1", minuteBucket(now, 35*time.Second, 0), hourBucket(now, 10*time.Minute, 0))
		// Saving the same view again (a retry) changes nothing either.
		save(t, a, "web-1", minuteBucket(now, 30*time.Second, 10*time.Second))
		got := load(t, c, "web-1")["web-1"]
		want := sortedBuckets([]UptimeBucket{minuteBucket(now, 30*time.Second, 10*time.Second), hourBucket(now, 20*time.Minute, 0)})
		if !slices.Equal(got, want) {
			t.Fatalf("got %v\nwant %v", got, want)
		}
		// An instance that went on counting replaces it.
		save(t, b, "web-1", minuteBucket(now, 30*time.Second, 25*time.Second))
		got = load(t, c, "web-1")["web-1"]
		if got[0] != minuteBucket(now, 30*time.Second, 25*time.Second) {
			t.Fatalf("minute = %v, want the longer view", got[0])
		}
	})

	t.Run("invalid buckets are refused whole", func(t *testing.T) {
		h := newHarness(t)
		s := h.open()
		now := h.now()
		good := minuteBucket(now, time.Second, 0)
		for name, bad := range map[string]UptimeBucket{
			"span":       {Start: now.Truncate(time.Hour), Span: 2 * time.Minute, Up: time.Second},
			"misaligned": {Start: now.Truncate(time.Minute).Add(time.Second), Span: time.Minute, Up: time.Second},
			"overfull":   minuteBucket(now, 50*time.Second, 11*time.Second),
			"negative":   minuteBucket(now, -time.Second, 0),
			"sub-ms":     minuteBucket(now, time.Microsecond, 0),
		} {
			err := s.Save(ctx, []UptimeRecord{{ID: "smtp-1", Buckets: []UptimeBucket{good, bad}}})
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: Save = %v, want ErrInvalid", name, err)
			}
		}
		if err := s.Save(ctx, []UptimeRecord{{ID: "", Buckets: []UptimeBucket{good}}}); !errors.Is(err, ErrInvalid) {
			t.Errorf("empty ID: Save = %v, want ErrInvalid", err)
		}
		if got := load(t, s, "smtp-1"); len(got) != 0 {
			t.Fatalf("loaded %v after refused saves", got)
		}
	})

	t.Run("buckets past retention are neither saved nor loaded", func(t *testing.T) {
		h := newHarness(t)
		s := h.open()
		now := h.now()
		save(t, s, "lmtp-1",
			minuteBucket(now.Add(-UptimeMinutesKept-time.Minute), time.Second, 0),
			hourBucket(now.Add(-UptimeHoursKept-time.Hour), time.Second, 0),
			minuteBucket(now, time.Second, 0))
		got := load(t, s, "lmtp-1")["lmtp-1"]
		if want := []UptimeBucket{minuteBucket(now, time.Second, 0)}; !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if h.advance == nil {
			return // a real server's clock cannot be moved
		}
		save(t, s, "lmtp-1", hourBucket(now, time.Minute, 0))
		h.advance(UptimeMinutesKept + time.Minute)
		got = load(t, s, "lmtp-1")["lmtp-1"]
		if want := []UptimeBucket{hourBucket(now, time.Minute, 0)}; !slices.Equal(got, want) {
			t.Fatalf("after the minutes' retention: got %v, want %v", got, want)
		}
		// A removed backend is saved no more: its week runs out.
		h.advance(UptimeHoursKept)
		if got := load(t, s, "lmtp-1"); len(got) != 0 {
			t.Fatalf("after a week: loaded %v", got)
		}
	})

	t.Run("IDs that need hashing in keys stay apart", func(t *testing.T) {
		h := newHarness(t)
		s := h.open()
		now := h.now()
		long := strings.Repeat("x", 300)
		odd := "a{b}c d"
		save(t, s, long, minuteBucket(now, time.Second, 0))
		save(t, s, odd, minuteBucket(now, 0, 2*time.Second))
		got := load(t, s, long, odd)
		if got[long][0].Up != time.Second || got[odd][0].Down != 2*time.Second {
			t.Fatalf("got %v", got)
		}
	})
}

// TestRedisUptimeStoreHostile: what another program leaves under the
// store's keys is skipped with a warning, never a failure or a crash, and
// a bucket that cannot be compared is overwritten by the next save.
func TestRedisUptimeStoreHostile(t *testing.T) {
	self := func(t *testing.T, b storeBackend) storeBackend { return b }
	t.Run("miniredis", func(t *testing.T) { testUptimeHostile(t, onMiniredis(self)(t)) })
	t.Run("real", func(t *testing.T) { testUptimeHostile(t, onRealRedis(t, self)(t)) })
}

func testUptimeHostile(t *testing.T, b storeBackend) {
	ctx := context.Background()
	raw := b.client()
	s := NewRedisUptimeStore(b.client(), b.prefix)
	s.now = b.now
	var mu sync.Mutex
	var warned []string
	s.OnCorrupt = func(key string, err error) {
		mu.Lock()
		warned = append(warned, key)
		mu.Unlock()
	}
	now := b.now()
	good := minuteBucket(now, 10*time.Second, 0)
	hour := hourBucket(now, 10*time.Second, 0)
	if err := s.Save(ctx, []UptimeRecord{{ID: "ok", Buckets: []UptimeBucket{good, hour}}}); err != nil {
		t.Fatal(err)
	}
	minuteKey, minuteField, _ := s.uptimeKey("junk", good)
	hourKey, _, _ := s.uptimeKey("wrongtype", hour)
	raw.HSet(ctx, minuteKey, minuteField, strings.Repeat("9", 5000))
	raw.HSet(ctx, minuteKey, "59", "70000:0") // more than a minute
	raw.HSet(ctx, minuteKey, "58", "1:2:3")
	raw.HSet(ctx, minuteKey, "junkfield", "whatever")
	raw.Set(ctx, hourKey, "not a hash", 0)

	got, err := s.Load(ctx, []string{"ok", "junk", "wrongtype"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(got["ok"]) != 2 || len(got["junk"]) != 0 || len(got["wrongtype"]) != 0 {
		t.Fatalf("loaded %v, want ok's two buckets only", got)
	}
	if len(warned) < 2 {
		t.Fatalf("warned about %v, want the junk fields and the string key", warned)
	}
	// Saving over them: the junk minute is overwritten, the string key is
	// reported and left alone, and the other backend's save goes through.
	warned = nil
	err = s.Save(ctx, []UptimeRecord{{ID: "junk", Buckets: []UptimeBucket{good}}, {ID: "wrongtype", Buckets: []UptimeBucket{hour}},
		{ID: "ok", Buckets: []UptimeBucket{minuteBucket(now, 20*time.Second, 0)}}})
	if err != nil {
		t.Fatalf("Save over junk: %v", err)
	}
	if len(warned) != 1 || warned[0] != hourKey {
		t.Fatalf("warned about %v, want %s", warned, hourKey)
	}
	got, err = s.Load(ctx, []string{"ok", "junk"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got["junk"]) != 1 || got["junk"][0] != good {
		t.Fatalf("junk = %v, want the saved bucket", got["junk"])
	}
	if up := sortedBuckets(got["ok"])[0].Up; up != 20*time.Second {
		t.Fatalf("ok minute up = %v", up)
	}
}
