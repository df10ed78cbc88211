package health

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/state"
)

// ttlStore notes the TTL of every acquire and renew.
type ttlStore struct {
	state.LeaseStore
	mu   sync.Mutex
	ttls []string
}

func (s *ttlStore) note(op string, ttl time.Duration) {
	s.mu.Lock()
	s.ttls = append(s.ttls, fmt.Sprintf("%s %s", op, ttl))
	s.mu.Unlock()
}

func (s *ttlStore) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.ttls
	s.ttls = nil
	return out
}

func (s *ttlStore) AcquireAll(ctx context.Context, ids []string, owner string, ttl time.Duration) (map[string]uint64, error) {
	s.note("acquire", ttl)
	return s.LeaseStore.AcquireAll(ctx, ids, owner, ttl)
}

func (s *ttlStore) Renew(ctx context.Context, id, owner string, token uint64, ttl time.Duration) (bool, error) {
	s.note("renew", ttl)
	return s.LeaseStore.Renew(ctx, id, owner, token, ttl)
}

// With probe leases, a backend on the down schedule keeps its holder: the
// lease is renewed for three down_intervals when the backend goes down,
// and acquired so at each down probe, so it does not run out (three deep
// intervals) long before the holder's next probe. The other instance
// probes the connect tier only and applies the holder's published deep
// results, however far apart they come.
func TestDownIntervalLeaseFollowsIntervalInUse(t *testing.T) {
	clock := newPassiveClock()
	mem := state.NewMemoryLeaseStore(clock.now)
	fb := newFakeBackends()
	fb.deepOK["d"] = false
	g := Group{Name: GroupMail, ConnectInterval: time.Second, DeepInterval: time.Second,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true, DownInterval: time.Minute,
		Targets: []*probe.Target{mailTarget("d", 1, true)}}
	var ins []*driven
	var stores []*ttlStore
	for i := range 2 {
		owner := fmt.Sprint("instance-", i)
		e, err := New([]Group{g}, fb.checker(owner), Options{Now: clock.now})
		if err != nil {
			t.Fatal(err)
		}
		st := &ttlStore{LeaseStore: mem}
		if err := e.UseLeases(LeaseConfig{Store: st, Owner: owner}); err != nil {
			t.Fatal(err)
		}
		fs := newFakeSched(clock)
		fs.hook(e)
		ins = append(ins, &driven{e: e, l: e.gen.Load().loops[0], fs: fs})
		stores = append(stores, st)
	}
	ins[0].round()
	if got := stores[0].take(); fmt.Sprint(got) != "[acquire 3s renew 3m0s]" {
		t.Fatalf("holder's lease calls %v, want an acquire for three deep intervals, then a renew for three down intervals", got)
	}
	ins[1].round()
	for i, in := range ins {
		b := backendByName(t, in.e.Snapshot(), "d")
		if b.Healthy || b.Schedule.State != IntervalDown || b.Schedule.Setting() != KeyDownInterval {
			t.Fatalf("instance %d: healthy %v, schedule %+v", i, b.Healthy, b.Schedule)
		}
	}
	fb.take()
	stores[1].take()
	// Past three deep intervals, within three down intervals: the other
	// instance's down probe comes first and still finds the lease held.
	for range 3 {
		clock.advance(time.Minute)
		for i := 1; i >= 0; i-- {
			ins[i].l.fireFast()
			ins[i].kicked()
		}
	}
	connect, deep, byOwner := fb.take()
	if deep != 3 || byOwner["instance-0"] != 3 || connect != 3 {
		t.Fatalf("three down intervals: %d deep probes (%v), %d connect probes; want 3 deep by the holder, 3 connect by the other", deep, byOwner, connect)
	}
	if got := stores[1].take(); fmt.Sprint(got) != "[acquire 3m0s acquire 3m0s acquire 3m0s]" {
		t.Fatalf("other instance's lease calls %v, want acquires for three down intervals", got)
	}
	// The holder: its first round and three down probes. The other: the
	// same results but the last, which it fetches at its next probe (its
	// probes come just before the holder's).
	for i, want := range []int{4, 3} {
		if b := backendByName(t, ins[i].e.Snapshot(), "d"); b.Deep.ConsecutiveFailures != want {
			t.Fatalf("instance %d: %d consecutive deep failures, want %d", i, b.Deep.ConsecutiveFailures, want)
		}
	}
	for _, in := range ins {
		in.l.stopFast()
	}
}
