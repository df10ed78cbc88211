package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// adminHarness is one store implementation under test. open returns
// another handle on the same shared state (a second backline instance);
// advance moves the clock every handle and the backing store use; now
// reads it.
type adminHarness struct {
	open    func() AdminStore
	advance func(time.Duration)
	now     func() time.Time
	// ttl is how far ahead the expiry subtest sets until (default a
	// minute); a real server's clock cannot move, so it waits instead.
	ttl time.Duration
}

// runAdminStoreSuite is the behavioural suite every AdminStore passes; new
// returns a fresh, empty shared state for each subtest.
func runAdminStoreSuite(t *testing.T, newHarness func(t *testing.T) adminHarness) {
	ctx := context.Background()
	rec := func(s string) json.RawMessage { return json.RawMessage(s) }

	t.Run("empty", func(t *testing.T) {
		s := newHarness(t).open()
		list, err := s.List(ctx)
		if err != nil || len(list) != 0 {
			t.Fatalf("List = %v, %v", list, err)
		}
		if _, ok, err := s.Get(ctx, "imap-a"); ok || err != nil {
			t.Fatalf("Get = %v, %v", ok, err)
		}
		if err := s.Delete(ctx, "imap-a"); err != nil {
			t.Fatalf("Delete of a missing entry: %v", err)
		}
	})

	t.Run("set get replace compact", func(t *testing.T) {
		s := newHarness(t).open()
		if err := s.Set(ctx, AdminEntry{ID: "imap-a", Record: rec(`{ "state": "drain",  "who": "ops" }`)}); err != nil {
			t.Fatal(err)
		}
		e, ok, err := s.Get(ctx, "imap-a")
		if err != nil || !ok || string(e.Record) != `{"state":"drain","who":"ops"}` || !e.Until.IsZero() {
			t.Fatalf("Get = %+v %s, %v, %v", e, e.Record, ok, err)
		}
		e.Record[2] = 'X' // the caller's copy; the store must not change
		if err := s.Set(ctx, AdminEntry{ID: "imap-a", Record: rec(`{"state":"maint"}`)}); err != nil {
			t.Fatal(err)
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != 1 || string(list[0].Record) != `{"state":"maint"}` {
			t.Fatalf("List after replace = %v, %v", list, err)
		}
	})

	t.Run("list sorted, odd ids", func(t *testing.T) {
		s := newHarness(t).open()
		ids := []string{"z", "imap-b", "imap-a", "with space", "ünïcode", "a:b{c}", "x\ny", strings.Repeat("L", MaxIDLen)}
		for i, id := range ids {
			if err := s.Set(ctx, AdminEntry{ID: id, Record: rec(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
				t.Fatalf("Set(%q): %v", id, err)
			}
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != len(ids) {
			t.Fatalf("List = %d entries, %v", len(list), err)
		}
		for i := 1; i < len(list); i++ {
			if list[i-1].ID >= list[i].ID {
				t.Errorf("not sorted: %q before %q", list[i-1].ID, list[i].ID)
			}
		}
		for _, e := range list {
			if got, ok, _ := s.Get(ctx, e.ID); !ok || string(got.Record) != string(e.Record) {
				t.Errorf("Get(%q) = %s, %v; List had %s", e.ID, got.Record, ok, e.Record)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		s := newHarness(t).open()
		for _, id := range []string{"a", "b"} {
			if err := s.Set(ctx, AdminEntry{ID: id, Record: rec(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Get(ctx, "a"); ok {
			t.Error("a still there after Delete")
		}
		if list, _ := s.List(ctx); len(list) != 1 || list[0].ID != "b" {
			t.Errorf("List = %v", list)
		}
	})

	t.Run("expiry at until", func(t *testing.T) {
		h := newHarness(t)
		s := h.open()
		ttl := h.ttl
		if ttl == 0 {
			ttl = time.Minute
		}
		until := h.now().Add(ttl).Truncate(time.Millisecond)
		if err := s.Set(ctx, AdminEntry{ID: "timed", Record: rec(`{}`), Until: until}); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, AdminEntry{ID: "forever", Record: rec(`{}`)}); err != nil {
			t.Fatal(err)
		}
		e, ok, err := s.Get(ctx, "timed")
		if err != nil || !ok || !e.Until.Equal(until) {
			t.Fatalf("before expiry: %+v %v %v (want until %v)", e, ok, err, until)
		}
		h.advance(2 * ttl)
		if _, ok, _ := s.Get(ctx, "timed"); ok {
			t.Error("timed entry still there after its until")
		}
		if list, err := s.List(ctx); err != nil || len(list) != 1 || list[0].ID != "forever" {
			t.Errorf("List after expiry = %v, %v", list, err)
		}
	})

	t.Run("set with past until deletes", func(t *testing.T) {
		h := newHarness(t)
		s := h.open()
		if err := s.Set(ctx, AdminEntry{ID: "a", Record: rec(`{}`)}); err != nil {
			t.Fatal(err)
		}
		before, _ := s.Revision(ctx)
		if err := s.Set(ctx, AdminEntry{ID: "a", Record: rec(`{}`), Until: h.now().Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Get(ctx, "a"); ok {
			t.Error("entry survived a Set with a past until")
		}
		if after, _ := s.Revision(ctx); after == before {
			t.Error("revision did not change")
		}
	})

	t.Run("revision", func(t *testing.T) {
		s := newHarness(t).open()
		r0, err := s.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := s.Revision(ctx); r != r0 {
			t.Errorf("revision moved without a change: %d, %d", r0, r)
		}
		if err := s.Set(ctx, AdminEntry{ID: "a", Record: rec(`{}`)}); err != nil {
			t.Fatal(err)
		}
		r1, _ := s.Revision(ctx)
		if r1 == r0 {
			t.Error("Set did not change the revision")
		}
		if err := s.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if r2, _ := s.Revision(ctx); r2 == r1 {
			t.Error("Delete did not change the revision")
		}
	})

	t.Run("invalid entries", func(t *testing.T) {
		s := newHarness(t).open()
		for name, e := range map[string]AdminEntry{
			"empty id":     {ID: "", Record: rec(`{}`)},
			"long id":      {ID: strings.Repeat("x", MaxIDLen+1), Record: rec(`{}`)},
			"nil record":   {ID: "a"},
			"array":        {ID: "a", Record: rec(`[]`)},
			"null":         {ID: "a", Record: rec(`null`)},
			"string":       {ID: "a", Record: rec(`"drain"`)},
			"truncated":    {ID: "a", Record: rec(`{"state":"dr`)},
			"two objects":  {ID: "a", Record: rec(`{}{}`)},
			"control char": {ID: "a", Record: rec("{\"a\":\"\x01\"}")},
			"oversized":    {ID: "a", Record: rec(`{"x":"` + strings.Repeat("y", MaxRecordSize) + `"}`)},
		} {
			if err := s.Set(ctx, e); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: Set = %v, want ErrInvalid", name, err)
			}
		}
		if _, _, err := s.Get(ctx, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("Get(\"\") = %v", err)
		}
		if err := s.Delete(ctx, strings.Repeat("x", MaxIDLen+1)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Delete(long) = %v", err)
		}
		if list, _ := s.List(ctx); len(list) != 0 {
			t.Errorf("invalid entries were stored: %v", list)
		}
	})

	t.Run("instances share", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.open(), h.open()
		w := &AdminWatcher{Store: b}
		var seen []AdminEntry
		w.Apply = func(l []AdminEntry) { seen = l }
		w.Poll(ctx)
		if len(seen) != 0 {
			t.Fatalf("first poll = %v", seen)
		}
		if err := a.Set(ctx, AdminEntry{ID: "imap-a", Record: rec(`{"state":"drain"}`)}); err != nil {
			t.Fatal(err)
		}
		w.Poll(ctx)
		if len(seen) != 1 || seen[0].ID != "imap-a" {
			t.Fatalf("b did not see a's drain: %v", seen)
		}
		seen = nil
		w.Poll(ctx)
		if seen != nil {
			t.Errorf("poll without a change applied again: %v", seen)
		}
		if err := a.Delete(ctx, "imap-a"); err != nil {
			t.Fatal(err)
		}
		w.Poll(ctx)
		if seen == nil || len(seen) != 0 {
			t.Errorf("b did not see the delete: %v", seen)
		}
	})

	t.Run("concurrent writers", func(t *testing.T) {
		h := newHarness(t)
		var wg sync.WaitGroup
		for g := range 4 {
			s := h.open()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					id := fmt.Sprintf("b%d", i%5)
					if err := s.Set(ctx, AdminEntry{ID: id, Record: rec(fmt.Sprintf(`{"g":%d}`, g))}); err != nil {
						t.Error(err)
						return
					}
					if i%7 == 0 {
						_ = s.Delete(ctx, id)
					}
					if _, err := s.List(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		list, err := h.open().List(ctx)
		if err != nil || len(list) > 5 {
			t.Fatalf("List = %v, %v", list, err)
		}
		for _, e := range list {
			if !isJSONObject(e.Record) {
				t.Errorf("torn record %q: %s", e.ID, e.Record)
			}
		}
	})
}

// fakeClock is a settable clock for the memory store and miniredis.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Millisecond)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
