package auth

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/state"
)

// drainStore is an affinity store whose clock a test moves.
type drainStore struct {
	name    string
	store   state.AffinityStore
	advance func(time.Duration)
}

// drainStores are the memory store on a fake clock and the Redis store on
// miniredis: both must keep a drained user the same way.
func drainStores(t *testing.T) []drainStore {
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	mem := state.NewMemoryAffinityStore(0, func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	})
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	return []drainStore{
		{"memory", mem, func(d time.Duration) {
			mu.Lock()
			now = now.Add(d)
			mu.Unlock()
		}},
		{"redis", state.NewRedisAffinityStore(c, "bl:"), m.FastForward},
	}
}

func alicesKey() state.AffinityKey { return state.AffinityKey{User: testUser, Protocol: "imap"} }

// TestStickyDrainKeepsStoredUsers: a drained backend keeps the users
// stored for it (every endpoint), is given to no new user, and does not
// refresh their entries, so they leave within affinity_ttl; maintenance
// moves them at once.
func TestStickyDrainKeepsStoredUsers(t *testing.T) {
	for _, ds := range drainStores(t) {
		t.Run(ds.name, func(t *testing.T) {
			env := stickyEnv(t, ds.store, nil)
			a := mailBackend("imap-a", "imap", "127.0.0.1", 1143, true)
			b := mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)
			ctx := context.Background()
			if err := ds.store.Set(ctx, alicesKey(), "imap-b", 15*time.Minute); err != nil {
				t.Fatal(err)
			}
			env.health.set(a, drained(b))
			ds.advance(10 * time.Minute)
			for _, ep := range endpoints {
				if got, code := endpointBackend(t, env, ep, testUser, testPassword, "imap"); got != "127.0.0.2:2143" {
					t.Errorf("%s: alice -> %s (%d), want her drained imap-b", ep, got, code)
				}
			}
			sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: testUser, protocol: "imap"})
			want := "stored backend imap-b is drained; kept until its affinity expires"
			if sel.Affinity == nil || !sel.Affinity.Used || sel.Affinity.Reason != want {
				t.Errorf("affinity %+v, want used with %q", sel.Affinity, want)
			}
			// New users never get the drained backend.
			for n := range 50 {
				user := fmt.Sprintf("user%02d", n)
				sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: user, protocol: "imap"})
				if sel.Backend == nil || sel.Backend.ID != "imap-a" || stored(t, ds.store, user, "imap") != "imap-a" {
					t.Fatalf("new user %s -> %+v", user, sel.Backend)
				}
			}
			// The logins at 10 minutes did not refresh alice's entry: at
			// 16 minutes it has expired and she is re-chosen.
			ds.advance(6 * time.Minute)
			if got, _ := endpointBackend(t, env, "nginx", testUser, testPassword, "imap"); got != "127.0.0.1:1143" {
				t.Errorf("after her affinity expired: alice -> %s, want imap-a", got)
			}
			if s := stored(t, ds.store, testUser, "imap"); s != "imap-a" {
				t.Errorf("stored %q after the drain's affinity expired", s)
			}
			// Maintenance moves a stored user at the next login.
			if err := ds.store.Set(ctx, alicesKey(), "imap-b", 15*time.Minute); err != nil {
				t.Fatal(err)
			}
			env.health.set(a, inState(b, health.AdminMaint, health.HealthAuto))
			if got, _ := endpointBackend(t, env, "nginx", testUser, testPassword, "imap"); got != "127.0.0.1:1143" {
				t.Errorf("maint: alice -> %s, want imap-a", got)
			}
			if s := stored(t, ds.store, testUser, "imap"); s != "imap-a" {
				t.Errorf("maint: stored %q", s)
			}
		})
	}
}

// TestStickyDrainRefreshesNothing counts the store's refreshes: a kept
// drained user's login reads without refreshing; a kept eligible one
// refreshes.
func TestStickyDrainRefreshesNothing(t *testing.T) {
	mem := state.NewMemoryAffinityStore(0, nil)
	rec := &recordingStore{inner: mem}
	env := stickyEnv(t, rec, nil)
	a := mailBackend("imap-a", "imap", "127.0.0.1", 1143, true)
	b := mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)
	if err := mem.Set(context.Background(), alicesKey(), "imap-b", time.Hour); err != nil {
		t.Fatal(err)
	}
	env.health.set(a, drained(b))
	endpointBackend(t, env, "nginx", testUser, testPassword, "imap")
	if sets, refreshes := rec.writes(); len(sets) != 0 || refreshes != 0 {
		t.Errorf("drained: sets %v, refreshes %d; want none", sets, refreshes)
	}
	env.health.set(a, b)
	endpointBackend(t, env, "nginx", testUser, testPassword, "imap")
	if _, refreshes := rec.writes(); refreshes != 1 {
		t.Errorf("ready: refreshes %d, want 1", refreshes)
	}
}

// TestStickyDrainKeepsOnlyServableBackends: drained and unhealthy, or a
// drained backup while a primary is eligible, keeps nobody; a drained
// backend that is the only one left keeps its users, and only them.
func TestStickyDrainKeepsOnlyServableBackends(t *testing.T) {
	mem := state.NewMemoryAffinityStore(0, nil)
	env := stickyEnv(t, mem, nil)
	a := mailBackend("imap-a", "imap", "127.0.0.1", 1143, true)
	b := mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)
	spare := mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)
	spare.Backup = true
	settle := func(user string) *Selection {
		return env.h.settle(selectInput{snap: env.health.Snapshot(), user: user, protocol: "imap"})
	}
	for _, c := range []struct {
		name     string
		backends []health.Backend
		want     string // alice's backend ID, "" for none
		bob      string
	}{
		{"drained and down", []health.Backend{a, drained(mailBackend("imap-b", "imap", "127.0.0.2", 2143, false))}, "imap-a", "imap-a"},
		{"drained backup, primary eligible", []health.Backend{a, drained(spare)}, "imap-a", "imap-a"},
		{"drained backup, primary down", []health.Backend{mailBackend("imap-a", "imap", "127.0.0.1", 1143, false), drained(spare)}, "imap-b", ""},
		{"only the drained one left", []health.Backend{mailBackend("imap-a", "imap", "127.0.0.1", 1143, false), drained(b)}, "imap-b", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, u := range []string{testUser, "bob"} {
				if err := mem.Delete(context.Background(), state.AffinityKey{User: u, Protocol: "imap"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := mem.Set(context.Background(), alicesKey(), "imap-b", time.Hour); err != nil {
				t.Fatal(err)
			}
			env.health.set(c.backends...)
			for user, want := range map[string]string{testUser: c.want, "bob": c.bob} {
				sel := settle(user)
				got := ""
				if sel.Backend != nil {
					got = sel.Backend.ID
				}
				if got != want {
					t.Errorf("%s -> %q (%s: %s), want %q", user, got, sel.Status, sel.Reason(), want)
				}
				if want == "" && sel.Status != selNoBackend {
					t.Errorf("%s: status %s, want %s", user, sel.Status, selNoBackend)
				}
			}
		})
	}
	// A fail_closed panic refuses every login, a drained user's too.
	env = stickyEnv(t, mem, func(c *config.Config, _ *Options) {
		c.Auth.Nginx.Panic = config.Panic{Mode: config.PanicFailClosed, BelowPercent: ptrInt(50)}
	})
	env.health.set(mailBackend("imap-a", "imap", "127.0.0.1", 1143, false), drained(b))
	if sel := settle(testUser); sel.Backend != nil || !sel.Panic {
		t.Errorf("fail_closed panic: alice -> %+v (panic %v)", sel.Backend, sel.Panic)
	}
}

// TestStickyFilterMayChooseADrainedBackendOnlyForItsUsers: a filter that
// sends everyone to drained imap-b is followed for alice, stored there
// (without storing or refreshing again), and overridden for bob.
func TestStickyFilterMayChooseADrainedBackendOnlyForItsUsers(t *testing.T) {
	filters := &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) {
		return &filterOutcome{SelectedHost: "127.0.0.2", SelectedPort: 2143, SelectedBy: "route"}, nil
	}}
	mem := state.NewMemoryAffinityStore(0, nil)
	rec := &recordingStore{inner: mem}
	env := stickyEnv(t, rec, func(_ *config.Config, o *Options) { o.filters = filters })
	a := mailBackend("imap-a", "imap", "127.0.0.1", 1143, true)
	b := mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)
	env.health.set(a, drained(b))
	if err := mem.Set(context.Background(), alicesKey(), "imap-b", time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, ep := range endpoints {
		if got, code := endpointBackend(t, env, ep, testUser, testPassword, "imap"); got != "127.0.0.2:2143" {
			t.Errorf("%s: alice -> %s (%d), want the filter's drained imap-b, her stored backend", ep, got, code)
		}
	}
	if sets, refreshes := rec.writes(); len(sets) != 0 || refreshes != 0 {
		t.Errorf("alice's filter choice was written: sets %v, refreshes %d", sets, refreshes)
	}
	if got, code := endpointBackend(t, env, "nginx", "bob", bobPassword, "imap"); got != "127.0.0.1:1143" {
		t.Errorf("bob -> %s (%d), want the policy's imap-a", got, code)
	}
	if s := stored(t, mem, "bob", "imap"); s != "imap-a" {
		t.Errorf("bob stored %q", s)
	}
	if !strings.Contains(env.logs.String(), "filter selection overridden") {
		t.Errorf("bob's overridden filter choice not logged:\n%s", env.logs.String())
	}
	// Explain agrees and says why.
	ans := env.h.explain(context.Background(), &Request{Username: testUser, Protocol: "imap", Service: "nginx"})
	want := "a filter chose the stored backend imap-b, which is drained; kept until its affinity expires"
	if ans.Backend == nil || ans.Backend.ID != "imap-b" || ans.Affinity == nil || !ans.Affinity.Used || ans.Affinity.Reason != want {
		t.Errorf("explain alice: backend %+v, affinity %+v", ans.Backend, ans.Affinity)
	}
	ans = env.h.explain(context.Background(), &Request{Username: "bob", Protocol: "imap", Service: "nginx"})
	if ans.Backend == nil || ans.Backend.ID != "imap-a" || !strings.Contains(ans.Reason, "not eligible (drain)") {
		t.Errorf("explain bob: backend %+v, reason %q", ans.Backend, ans.Reason)
	}
	// In maintenance the filter is overridden for alice too.
	env.health.set(a, inState(b, health.AdminMaint, health.HealthAuto))
	if got, _ := endpointBackend(t, env, "nginx", testUser, testPassword, "imap"); got != "127.0.0.1:1143" {
		t.Errorf("maint: alice -> %s, want imap-a", got)
	}
}
