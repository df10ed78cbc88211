package health

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/state"
)

// failSecondAcquire lets the first AcquireAll after arm through and fails
// the second: the store going away between the two calls of a round that
// acquires at two TTLs.
type failSecondAcquire struct {
	state.LeaseStore
	armed atomic.Bool
	calls atomic.Int32
}

func (s *failSecondAcquire) AcquireAll(ctx context.Context, ids []string, owner string, ttl time.Duration) (map[string]uint64, error) {
	if s.armed.Load() && s.calls.Add(1) == 2 {
		return nil, errDead
	}
	return s.LeaseStore.AcquireAll(ctx, ids, owner, ttl)
}

// A requested round with a backend on the down schedule and one not
// acquires at two TTLs; when the second call fails, the leases the first
// one took are this instance's all the same, and a stop releases them:
// another instance takes over at once, not after three down_intervals.
func TestLeasesPartlyAcquiredAreReleasedAtStop(t *testing.T) {
	clock := newPassiveClock()
	mem := state.NewMemoryLeaseStore(clock.now)
	g := Group{Name: GroupMail, ConnectInterval: time.Second, DeepInterval: time.Second,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true, DownInterval: time.Minute,
		Targets: []*probe.Target{mailTarget("d", 1, true), mailTarget("u", 2, true)}}
	e, err := New([]Group{g}, newFakeBackends().checker("instance-0"), Options{Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	st := &failSecondAcquire{LeaseStore: mem}
	if err := e.UseLeases(LeaseConfig{Store: st, Owner: "instance-0"}); err != nil {
		t.Fatal(err)
	}
	fs := newFakeSched(clock)
	fs.hook(e)
	l := e.gen.Load().loops[0]
	l.states[0].downScheduled = true // d: down_interval TTL; u: the deep interval's
	for _, id := range []string{"d", "u"} {
		if _, _, err := e.ProbeNow(id, RecheckAPI, "test"); err != nil {
			t.Fatal(err)
		}
	}
	st.armed.Store(true)
	l.kickedRound(context.Background())
	if n := st.calls.Load(); n != 2 {
		t.Fatalf("%d acquire calls, want 2 (one per TTL)", n)
	}
	e.releaseLeases()
	held, err := mem.AcquireAll(context.Background(), []string{"d", "u"}, "instance-1", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for id := range held {
		got = append(got, id)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"d", "u"}) {
		t.Fatalf("after the stop another instance got %v, want both leases", got)
	}
	l.stopFast()
}
