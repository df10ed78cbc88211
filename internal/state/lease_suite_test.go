package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// leaseHarness is one LeaseStore implementation under test: open returns
// another instance's handle on the same leases; advance moves the store's
// clock; unit is the lease TTL timed subtests use.
type leaseHarness struct {
	open    func() LeaseStore
	advance func(time.Duration)
	unit    time.Duration
}

func runLeaseStoreSuite(t *testing.T, newHarness func(t *testing.T) leaseHarness) {
	ctx := context.Background()
	acquire := func(t *testing.T, s LeaseStore, id, owner string, ttl time.Duration) (uint64, bool) {
		t.Helper()
		tok, ok, err := s.Acquire(ctx, id, owner, ttl)
		if err != nil {
			t.Fatalf("Acquire(%q, %q): %v", id, owner, err)
		}
		return tok, ok
	}
	publish := func(t *testing.T, s LeaseStore, id string, tok uint64, data string) (uint64, bool) {
		t.Helper()
		seq, ok, err := s.Publish(ctx, id, tok, []byte(data), time.Hour)
		if err != nil {
			t.Fatalf("Publish(%q, %d): %v", id, tok, err)
		}
		return seq, ok
	}
	fetch := func(t *testing.T, s LeaseStore, maxAge time.Duration, ids ...string) map[string][]Published {
		t.Helper()
		got, err := s.Fetch(ctx, ids, maxAge)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		return got
	}

	t.Run("one owner at a time", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.open(), h.open()
		tok, ok := acquire(t, a, "imap-1", "a", time.Hour)
		if !ok || tok == 0 {
			t.Fatalf("a: token %d ok %v", tok, ok)
		}
		if got, ok := acquire(t, b, "imap-1", "b", time.Hour); ok || got != tok {
			t.Fatalf("b while a holds it: token %d ok %v, want %d false", got, ok, tok)
		}
		if got, ok := acquire(t, a, "imap-1", "a", time.Hour); !ok || got != tok {
			t.Fatalf("a again: token %d ok %v, want the same token", got, ok)
		}
		if _, ok := acquire(t, b, "imap-2", "b", time.Hour); !ok {
			t.Fatal("b on another backend refused")
		}
	})

	t.Run("acquire all agrees with acquire", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.open(), h.open()
		tokA, _ := acquire(t, a, "imap-1", "a", time.Hour)
		held, err := b.AcquireAll(ctx, []string{"imap-1", "imap-2", "a{b}"}, "b", time.Hour)
		if err != nil || len(held) != 2 || held["imap-2"] == 0 || held["a{b}"] == 0 {
			t.Fatalf("b: %v %v", held, err)
		}
		again, err := b.AcquireAll(ctx, []string{"imap-2", "a{b}"}, "b", time.Hour)
		if err != nil || again["imap-2"] != held["imap-2"] || again["a{b}"] != held["a{b}"] {
			t.Fatalf("b again: %v %v, want the same tokens %v", again, err, held)
		}
		if got, ok := acquire(t, a, "imap-1", "a", time.Hour); !ok || got != tokA {
			t.Fatal("a lost its lease to AcquireAll")
		}
		if held, err := a.AcquireAll(ctx, nil, "a", time.Hour); err != nil || len(held) != 0 {
			t.Fatalf("no ids: %v %v", held, err)
		}
		if _, err := a.AcquireAll(ctx, []string{"ok", ""}, "a", time.Hour); !errors.Is(err, ErrInvalid) {
			t.Fatalf("an empty id: %v", err)
		}
	})

	t.Run("expiry hands over with a larger token", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.open(), h.open()
		tokA, _ := acquire(t, a, "imap-1", "a", h.unit)
		h.advance(h.unit / 2)
		renewing := time.Now()
		if ok, err := a.Renew(ctx, "imap-1", "a", tokA, h.unit); err != nil || !ok {
			t.Fatalf("renew: %v %v", ok, err)
		}
		h.advance(h.unit * 3 / 4) // renewed: still a's
		if _, ok := acquire(t, b, "imap-1", "b", h.unit); ok {
			// On a real server the acquire may land a whole unit after the
			// renewal on a loaded machine (the pace checks only the sleeps):
			// the lease had expired then, and taking it was right.
			if took := time.Since(renewing); took >= h.unit {
				t.Skipf("the acquire ran %v after the renewal (unit %v): too loaded to judge", took.Round(time.Millisecond), h.unit)
			}
			t.Fatal("b took a renewed lease")
		}
		h.advance(h.unit * 3 / 4)
		tokB, ok := acquire(t, b, "imap-1", "b", h.unit)
		if !ok || tokB <= tokA {
			t.Fatalf("b after expiry: token %d ok %v, want > %d", tokB, ok, tokA)
		}
		if ok, err := a.Renew(ctx, "imap-1", "a", tokA, h.unit); err != nil || ok {
			t.Fatalf("a renewed a lease it lost: %v %v", ok, err)
		}
	})

	t.Run("a stale owner's publish is refused", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.open(), h.open()
		tokA, _ := acquire(t, a, "imap-1", "a", h.unit)
		if seq, ok := publish(t, a, "imap-1", tokA, "a1"); !ok || seq != 1 {
			t.Fatalf("a's publish: seq %d ok %v", seq, ok)
		}
		h.advance(h.unit * 2) // a pauses past its lease
		tokB, _ := acquire(t, b, "imap-1", "b", time.Hour)
		if _, ok := publish(t, a, "imap-1", tokA, "a2"); ok {
			t.Fatal("publish with the old token accepted")
		}
		if seq, ok := publish(t, b, "imap-1", tokB, "b1"); !ok || seq != 2 {
			t.Fatalf("b's publish: seq %d ok %v", seq, ok)
		}
		got := fetch(t, a, time.Hour, "imap-1")["imap-1"]
		if len(got) != 2 || string(got[0].Data) != "a1" || string(got[1].Data) != "b1" || got[1].Token != tokB {
			t.Fatalf("published %+v, want a1 then b1", got)
		}
		if _, ok := publish(t, b, "imap-9", tokB, "x"); ok {
			t.Fatal("publish without any lease accepted")
		}
	})

	t.Run("publish all: accepted and refused items", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.open(), h.open()
		tok1, _ := acquire(t, a, "imap-1", "a", time.Hour)
		tok2, _ := acquire(t, b, "imap-2", "b", time.Hour)
		items := []PublishItem{{"imap-1", tok1, []byte("x1")}, {"imap-2", tok2 + 1, []byte("stale")}, {"imap-1", tok1, []byte("x2")}, {"imap-3", 1, nil}}
		seqs, err := a.PublishAll(ctx, items, time.Hour)
		if err != nil || len(seqs) != 4 || seqs[0] != 1 || seqs[1] != 0 || seqs[2] != 2 || seqs[3] != 0 {
			t.Fatalf("seqs %v %v", seqs, err)
		}
		if seqs, err := b.PublishAll(ctx, []PublishItem{{"imap-2", tok2, []byte("y")}}, time.Hour); err != nil || seqs[0] != 1 {
			t.Fatalf("b: %v %v", seqs, err)
		}
		got := fetch(t, b, time.Hour, "imap-1", "imap-2")
		if len(got["imap-1"]) != 2 || string(got["imap-1"][1].Data) != "x2" || len(got["imap-2"]) != 1 || string(got["imap-2"][0].Data) != "y" {
			t.Fatalf("fetched %+v", got)
		}
		if _, err := a.PublishAll(ctx, []PublishItem{{"", 1, nil}}, time.Hour); !errors.Is(err, ErrInvalid) {
			t.Fatalf("empty id: %v", err)
		}
	})

	t.Run("release hands over at once; others cannot release", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.open(), h.open()
		tokA, _ := acquire(t, a, "imap-1", "a", time.Hour)
		if err := b.Release(ctx, "imap-1", "b", tokA); err != nil {
			t.Fatal(err)
		}
		if err := a.Release(ctx, "imap-1", "a", tokA+1); err != nil {
			t.Fatal(err)
		}
		if _, ok := acquire(t, b, "imap-1", "b", time.Hour); ok {
			t.Fatal("a wrong release freed the lease")
		}
		if err := a.Release(ctx, "imap-1", "a", tokA); err != nil {
			t.Fatal(err)
		}
		if tok, ok := acquire(t, b, "imap-1", "b", time.Hour); !ok || tok <= tokA {
			t.Fatalf("b after release: %d %v", tok, ok)
		}
	})

	t.Run("fetch keeps the newest results in order and ages them", func(t *testing.T) {
		h := newHarness(t)
		a := h.open()
		tok, _ := acquire(t, a, "imap-1", "a", time.Hour)
		for i := range 6 {
			publish(t, a, "imap-1", tok, fmt.Sprint("r", i))
		}
		got := fetch(t, h.open(), time.Hour, "imap-1", "imap-2")
		if len(got) != 1 || len(got["imap-1"]) != PublishedKept {
			t.Fatalf("fetched %+v", got)
		}
		for i, p := range got["imap-1"] {
			if p.Seq != uint64(3+i) || string(p.Data) != fmt.Sprint("r", 2+i) || p.Age < 0 || p.Age > h.unit {
				t.Fatalf("entry %d: %+v", i, p)
			}
		}
		h.advance(h.unit * 2)
		if got := fetch(t, a, h.unit, "imap-1"); len(got) != 0 {
			t.Fatalf("results older than maxAge fetched: %+v", got)
		}
		if got := fetch(t, a, time.Hour, "imap-1")["imap-1"]; len(got) != PublishedKept || got[0].Age < h.unit*2 {
			t.Fatalf("age not on the store's clock: %+v", got)
		}
	})

	t.Run("results expire keep after the last publish", func(t *testing.T) {
		h := newHarness(t)
		a := h.open()
		tok, _ := acquire(t, a, "imap-1", "a", time.Hour)
		if _, _, err := a.Publish(ctx, "imap-1", tok, []byte("x"), h.unit); err != nil {
			t.Fatal(err)
		}
		h.advance(h.unit * 2)
		if got := fetch(t, a, time.Hour, "imap-1"); len(got) != 0 {
			t.Fatalf("expired results fetched: %+v", got)
		}
	})

	t.Run("concurrent acquires: one winner", func(t *testing.T) {
		h := newHarness(t)
		stores := []LeaseStore{h.open(), h.open(), h.open()}
		var wins atomic.Int64
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Go(func() {
				if _, ok, err := stores[i%3].Acquire(ctx, "race", fmt.Sprint("owner-", i), time.Hour); err == nil && ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d owners won one lease", wins.Load())
		}
	})

	t.Run("hostile ids, owners and data", func(t *testing.T) {
		h := newHarness(t)
		a := h.open()
		ids := []string{"a:b", "{x}", "x\ny\x00", strings.Repeat("i", MaxIDLen), "ünï"}
		data := []byte("ok:1:2:3:\x00\xff" + strings.Repeat("d", 1000))
		for _, id := range ids {
			tok, ok := acquire(t, a, id, "own:er:\x00", time.Hour)
			if !ok {
				t.Fatalf("%.20q: refused", id)
			}
			if _, ok, err := a.Publish(ctx, id, tok, data, time.Hour); err != nil || !ok {
				t.Fatalf("%.20q: publish %v %v", id, ok, err)
			}
		}
		got := fetch(t, a, time.Hour, ids...)
		for _, id := range ids {
			if p := got[id]; len(p) != 1 || !bytes.Equal(p[0].Data, data) {
				t.Fatalf("%.20q: %+v", id, p)
			}
		}
		bad := []func() error{
			func() error { _, _, err := a.Acquire(ctx, "", "a", time.Hour); return err },
			func() error { _, _, err := a.Acquire(ctx, strings.Repeat("i", MaxIDLen+1), "a", time.Hour); return err },
			func() error { _, _, err := a.Acquire(ctx, "x", "", time.Hour); return err },
			func() error { _, _, err := a.Acquire(ctx, "x", "a", 0); return err },
			func() error {
				_, err := a.Renew(ctx, "x", strings.Repeat("o", MaxOwnerLen+1), 1, time.Hour)
				return err
			},
			func() error {
				_, _, err := a.Publish(ctx, "x", 1, make([]byte, MaxPublishedSize+1), time.Hour)
				return err
			},
			func() error { _, _, err := a.Publish(ctx, "x", 1, nil, 0); return err },
		}
		for i, f := range bad {
			if err := f(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("case %d: %v", i, err)
			}
		}
	})
}

// Clock skew: instances' clocks never enter (the API takes no time), and
// a Redis whose clock went back (failover to a replica behind) reports
// ages of zero, never negative ones; the lease itself expires on Redis's
// own expiry.
func TestRedisLeaseStoreServerClockBack(t *testing.T) {
	m, c := miniredisClient(t)
	s := NewRedisLeaseStore(c, "p:")
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0)
	m.SetTime(t0)
	tok, _, err := s.Acquire(ctx, "imap-1", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Publish(ctx, "imap-1", tok, []byte("r"), time.Hour); err != nil || !ok {
		t.Fatalf("publish: %v %v", ok, err)
	}
	m.SetTime(t0.Add(-time.Hour))
	got, err := s.Fetch(ctx, []string{"imap-1"}, time.Second)
	if err != nil || len(got["imap-1"]) != 1 || got["imap-1"][0].Age != 0 {
		t.Fatalf("clock back: %+v %v", got, err)
	}
	m.SetTime(t0.Add(30 * time.Second))
	got, _ = s.Fetch(ctx, []string{"imap-1"}, time.Hour)
	if p := got["imap-1"]; len(p) != 1 || p[0].Age != 30*time.Second {
		t.Fatalf("age on the server clock: %+v", p)
	}
}

// A Redis that lost its scripts (restart, failover) gets the acquire
// script loaded again by AcquireAll.
func TestRedisLeaseStoreAcquireAllAfterScriptFlush(t *testing.T) {
	_, c := miniredisClient(t)
	s := NewRedisLeaseStore(c, "p:")
	ctx := context.Background()
	if _, err := s.AcquireAll(ctx, []string{"a", "b"}, "o", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	held, err := s.AcquireAll(ctx, []string{"a", "b", "c"}, "o", time.Minute)
	if err != nil || len(held) != 3 {
		t.Fatalf("after SCRIPT FLUSH: %v %v", held, err)
	}
	items := []PublishItem{{"a", held["a"], []byte("1")}, {"b", held["b"], []byte("2")}}
	if seqs, err := s.PublishAll(ctx, items, time.Minute); err != nil || seqs[0] != 1 || seqs[1] != 1 {
		t.Fatalf("publish, script not loaded: %v %v", seqs, err)
	}
	c.ScriptFlush(ctx)
	if seqs, err := s.PublishAll(ctx, items, time.Minute); err != nil || seqs[0] != 2 || seqs[1] != 2 {
		t.Fatalf("publish after SCRIPT FLUSH: %v %v (each item exactly once)", seqs, err)
	}
}

func TestRedisLeaseStoreKeysAndDown(t *testing.T) {
	silenceClientLog.Do(func() { redis.SetLogger(quietLogger{}) })
	m, c := miniredisClient(t)
	s := NewRedisLeaseStore(c, "pfx:")
	ctx := context.Background()
	tok, _, _ := s.Acquire(ctx, "imap-1", "a", time.Minute)
	s.Publish(ctx, "imap-1", tok, []byte("r"), time.Hour)
	for _, k := range m.Keys() {
		if !strings.HasPrefix(k, "pfx:{lease:imap-1}:") {
			t.Errorf("key %q not under the prefix and hash tag", k)
		}
	}
	if ttl := m.TTL("pfx:{lease:imap-1}:l"); ttl <= 0 || ttl > time.Minute {
		t.Errorf("lease ttl %v", ttl)
	}
	m.Set("pfx:{lease:imap-1}:l", "garbage")
	if _, _, err := s.Acquire(ctx, "imap-1", "b", time.Minute); err == nil {
		t.Error("a lease without a token: no error")
	}
	m.Close()
	if _, _, err := s.Acquire(ctx, "imap-1", "a", time.Minute); err == nil {
		t.Fatal("Acquire on a stopped Redis: no error")
	}
	if _, err := s.Fetch(ctx, []string{"imap-1"}, time.Minute); err == nil {
		t.Fatal("Fetch on a stopped Redis: no error")
	}
}
