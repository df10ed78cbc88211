package health

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/state"
)

// fakeBackends answer every instance's probes the same way and count
// them: deep[name] false makes that backend's deep phase fail.
type fakeBackends struct {
	mu      sync.Mutex
	deepOK  map[string]bool
	calls   map[probe.Phase]int
	byOwner map[string]int // deep probes per instance
}

func newFakeBackends() *fakeBackends {
	return &fakeBackends{deepOK: map[string]bool{}, calls: map[probe.Phase]int{}, byOwner: map[string]int{}}
}

func (f *fakeBackends) checker(owner string) probe.Checker {
	return checkerFunc(func(_ context.Context, t *probe.Target, phase probe.Phase) probe.Result {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls[phase]++
		if phase == probe.PhaseDeep {
			f.byOwner[owner]++
		}
		ok, set := f.deepOK[t.Name]
		if phase == probe.PhaseConnect || !set || ok {
			return probe.Result{Phase: phase, OK: true, Duration: time.Millisecond,
				Steps: []probe.Step{{Name: "connect", Duration: time.Millisecond}}}
		}
		return probe.Result{Phase: phase, Reason: probe.ReasonAuth, FailedPhase: probe.PhaseDeep,
			Duration: time.Millisecond, Err: fmt.Errorf("auth refused by %s", t.Address())}
	})
}

// take returns the counts since the last take and resets them.
func (f *fakeBackends) take() (connect, deep int, byOwner map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	connect, deep, byOwner = f.calls[probe.PhaseConnect], f.calls[probe.PhaseDeep], f.byOwner
	f.calls, f.byOwner = map[probe.Phase]int{}, map[string]int{}
	return connect, deep, byOwner
}

// flakyStore is one instance's handle on the shared store; dead makes
// every call fail, as a killed instance or a cut network would.
type flakyStore struct {
	state.LeaseStore
	dead        atomic.Bool
	failPublish atomic.Bool // Redis dies between acquire and publish
}

func (s *flakyStore) PublishAll(ctx context.Context, items []state.PublishItem, keep time.Duration) ([]uint64, error) {
	if s.dead.Load() || s.failPublish.Load() {
		return nil, errDead
	}
	return s.LeaseStore.PublishAll(ctx, items, keep)
}

var errDead = fmt.Errorf("instance is dead")

func (s *flakyStore) Acquire(ctx context.Context, id, owner string, ttl time.Duration) (uint64, bool, error) {
	if s.dead.Load() {
		return 0, false, errDead
	}
	return s.LeaseStore.Acquire(ctx, id, owner, ttl)
}

func (s *flakyStore) AcquireAll(ctx context.Context, ids []string, owner string, ttl time.Duration) (map[string]uint64, error) {
	if s.dead.Load() {
		return nil, errDead
	}
	return s.LeaseStore.AcquireAll(ctx, ids, owner, ttl)
}

func (s *flakyStore) Release(ctx context.Context, id, owner string, tok uint64) error {
	if s.dead.Load() {
		return errDead
	}
	return s.LeaseStore.Release(ctx, id, owner, tok)
}

// instance is one engine of a lease test; rounds are driven by hand (one
// call of round is one interval), so no test depends on timing.
type instance struct {
	e      *Engine
	store  *flakyStore
	reg    *prometheus.Registry
	warned atomic.Int64 // "store unreachable" warnings logged
}

func (in *instance) round(t *testing.T) {
	t.Helper()
	l := in.e.gen.Load().loops[0]
	l.round(context.Background(), l.combinedJobs)
}

func (in *instance) shared() float64 {
	mfs, err := in.reg.Gather()
	if err != nil {
		return -1
	}
	for _, mf := range mfs {
		if mf.GetName() == "backline_probe_leases_shared" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

type countWarnings struct {
	slog.Handler
	n *atomic.Int64
}

func (h countWarnings) Enabled(context.Context, slog.Level) bool { return true }

func (h countWarnings) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && strings.Contains(r.Message, "store unreachable") {
		h.n.Add(1)
	}
	return nil
}

const leaseTargets = 10

// quietRedis keeps go-redis from printing every failed dial while a test
// has stopped Redis (the daemon does the same in state.NewRedisClient).
var quietRedis sync.Once

type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...any) {}

// leaseCluster builds n engines on one miniredis, each probing the same
// ten deep-checked backends (combined rounds of one second: lease TTL 3 s).
func leaseCluster(t *testing.T, n int, fb *fakeBackends, threshold int) (*miniredis.Miniredis, []*instance) {
	t.Helper()
	quietRedis.Do(func() { redis.SetLogger(quietRedisLogger{}) })
	m := miniredis.RunT(t)
	var targets []*probe.Target
	for i := range leaseTargets {
		targets = append(targets, mailTarget(fmt.Sprint("b", i), 1000+i, true))
	}
	g := Group{Name: GroupMail, ConnectInterval: time.Second, DeepInterval: time.Second,
		FailureThreshold: threshold, RecoveryThreshold: threshold, InitialHealthy: true, Targets: targets}
	var out []*instance
	for i := range n {
		owner := fmt.Sprint("instance-", i)
		in := &instance{reg: prometheus.NewRegistry()}
		logger := slog.New(countWarnings{slog.DiscardHandler, &in.warned})
		e, err := New([]Group{g}, fb.checker(owner), Options{Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
		t.Cleanup(func() { c.Close() })
		in.store = &flakyStore{LeaseStore: state.NewRedisLeaseStore(c, "backline:")}
		if err := e.UseLeases(LeaseConfig{Store: in.store, Owner: owner, Registerer: in.reg}); err != nil {
			t.Fatal(err)
		}
		in.e = e
		out = append(out, in)
	}
	return m, out
}

func TestLeasesOneDeepProbePerBackendPerInterval(t *testing.T) {
	fb := newFakeBackends()
	fb.deepOK["b3"] = false
	_, ins := leaseCluster(t, 3, fb, 2)
	for interval := range 4 {
		for _, in := range ins {
			in.round(t)
		}
		connect, deep, byOwner := fb.take()
		if deep != leaseTargets {
			t.Fatalf("interval %d: %d deep probes across three instances, want %d (%v)", interval, deep, leaseTargets, byOwner)
		}
		// Non-holders probe the connect tier themselves (it stays local).
		if connect != 2*leaseTargets {
			t.Fatalf("interval %d: %d connect probes, want %d", interval, connect, 2*leaseTargets)
		}
	}
	// Every instance applied the same four results to the same gates.
	for i, in := range ins {
		b := backendByName(t, in.e.Snapshot(), "b3")
		if b.Deep.Healthy || b.Deep.ConsecutiveFailures != 4 || !b.Connect.Healthy || b.Healthy {
			t.Fatalf("instance %d, b3: deep %+v connect %+v healthy %v", i, b.Deep, b.Connect, b.Healthy)
		}
		if ok := backendByName(t, in.e.Snapshot(), "b4"); !ok.Healthy || ok.Deep.ConsecutiveSuccesses != 4 {
			t.Fatalf("instance %d, b4: %+v", i, ok.Deep)
		}
		if in.shared() != 1 {
			t.Fatalf("instance %d: backline_probe_leases_shared %v", i, in.shared())
		}
	}
}

// Thresholds count published results: with a failure threshold of two, a
// backend turns unhealthy on every instance at the same (second) result.
func TestLeasesSameThresholdsEverywhere(t *testing.T) {
	fb := newFakeBackends()
	_, ins := leaseCluster(t, 3, fb, 2)
	for _, in := range ins {
		in.round(t)
	}
	fb.mu.Lock()
	fb.deepOK["b0"] = false
	fb.mu.Unlock()
	for _, in := range ins {
		in.round(t)
	}
	for i, in := range ins {
		if b := backendByName(t, in.e.Snapshot(), "b0"); !b.Deep.Healthy || b.Deep.ConsecutiveFailures != 1 {
			t.Fatalf("instance %d after one failure: %+v", i, b.Deep)
		}
	}
	for _, in := range ins {
		in.round(t)
	}
	for i, in := range ins {
		if b := backendByName(t, in.e.Snapshot(), "b0"); b.Deep.Healthy || b.Deep.ConsecutiveFailures != 2 {
			t.Fatalf("instance %d after two failures: %+v", i, b.Deep)
		}
	}
}

func TestLeasesKilledOwnerReplacedWithinOneTTL(t *testing.T) {
	fb := newFakeBackends()
	m, ins := leaseCluster(t, 3, fb, 1)
	for _, in := range ins {
		in.round(t)
	}
	if _, _, by := fb.take(); by["instance-0"] != leaseTargets {
		t.Fatalf("first holder: %v", by)
	}
	ins[0].store.dead.Store(true) // killed: no release, no more rounds
	ttl := LeaseTTLIntervals * time.Second
	// Until its leases run out nobody else may probe deep.
	for _, in := range ins[1:] {
		in.round(t)
	}
	if _, deep, _ := fb.take(); deep != 0 {
		t.Fatalf("%d deep probes while the dead holder's leases last", deep)
	}
	m.FastForward(ttl)
	for _, in := range ins[1:] {
		in.round(t)
	}
	_, deep, by := fb.take()
	if deep != leaseTargets || by["instance-1"] != leaseTargets {
		t.Fatalf("one TTL after the kill: %d deep probes %v, want all on instance-1", deep, by)
	}
	// The results of the new holder reach the third instance.
	if b := backendByName(t, ins[2].e.Snapshot(), "b0"); b.Deep.ConsecutiveSuccesses != 2 {
		t.Fatalf("instance-2 fed %d results, want 2", b.Deep.ConsecutiveSuccesses)
	}
}

// A stopped engine releases its leases: the next round of another
// instance takes over at once.
func TestLeasesStoppedOwnerReleases(t *testing.T) {
	fb := newFakeBackends()
	_, ins := leaseCluster(t, 2, fb, 1)
	ins[0].round(t)
	ins[0].e.releaseLeases()
	fb.take()
	ins[1].round(t)
	if _, _, by := fb.take(); by["instance-1"] != leaseTargets {
		t.Fatalf("after release: %v", by)
	}
}

func TestLeasesRedisDownProbesLocallyAndRejoins(t *testing.T) {
	fb := newFakeBackends()
	m, ins := leaseCluster(t, 3, fb, 1)
	for _, in := range ins {
		in.round(t)
	}
	fb.take()
	m.Close()
	for range 2 {
		for _, in := range ins {
			in.round(t)
		}
		if _, deep, _ := fb.take(); deep != 3*leaseTargets {
			t.Fatalf("Redis down: %d deep probes, want every instance probing all (%d)", deep, 3*leaseTargets)
		}
	}
	for i, in := range ins {
		if in.shared() != 0 || in.warned.Load() != 1 {
			t.Fatalf("instance %d: shared %v, %d warnings (want 0, 1)", i, in.shared(), in.warned.Load())
		}
		if b := backendByName(t, in.e.Snapshot(), "b0"); b.Deep.ConsecutiveSuccesses != 3 {
			t.Fatalf("instance %d: local results not recorded: %+v", i, b.Deep)
		}
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	m.FastForward(time.Hour) // the old leases have run out meanwhile
	for range 2 {
		for _, in := range ins {
			in.round(t)
		}
		if _, deep, _ := fb.take(); deep != leaseTargets {
			t.Fatalf("Redis back: %d deep probes, want %d", deep, leaseTargets)
		}
	}
	for i, in := range ins {
		if in.shared() != 1 {
			t.Fatalf("instance %d did not rejoin", i)
		}
	}
}

// An owner that stalls mid-probe past its lease publishes with a stale
// token: refused, and no instance (itself included) applies its result.
func TestLeasesStaleOwnerPublishRefused(t *testing.T) {
	fb := newFakeBackends()
	m, ins := leaseCluster(t, 2, fb, 1)
	release := make(chan struct{})
	entered := make(chan struct{}, leaseTargets)
	stalling := fb.checker("instance-0")
	ins[0].e.checker = checkerFunc(func(ctx context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
		if phase == probe.PhaseDeep {
			entered <- struct{}{}
			<-release
			return probe.Result{Phase: phase, Reason: probe.ReasonAuth, FailedPhase: probe.PhaseDeep,
				Duration: time.Millisecond, Err: fmt.Errorf("stale verdict")}
		}
		return stalling.Check(ctx, tg, phase, probe.Options{})
	})
	done := make(chan struct{})
	go func() { defer close(done); ins[0].round(t) }()
	for range leaseTargets {
		<-entered
	}
	m.FastForward(LeaseTTLIntervals * time.Second) // the stall outlives the leases
	ins[1].round(t)                                // takes over and publishes successes
	close(release)
	<-done
	for i, in := range ins {
		b := backendByName(t, in.e.Snapshot(), "b0")
		if !b.Deep.Healthy || b.Deep.ConsecutiveFailures != 0 || b.Deep.ConsecutiveSuccesses != 1 {
			t.Fatalf("instance %d applied a stale owner's result: %+v", i, b.Deep)
		}
	}
}

func TestSharedResultRoundTrip(t *testing.T) {
	in := probe.Result{Phase: probe.PhaseDeep, Reason: probe.ReasonAuth, FailedPhase: probe.PhaseDeep,
		Duration: 3 * time.Millisecond, Err: fmt.Errorf("auth failed"), Mechanism: "PLAIN",
		Steps:      []probe.Step{{Name: "connect", Duration: time.Millisecond}},
		Transcript: []string{"C: a LOGIN user <redacted>"}}
	data, err := encodeShared(&in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "redacted") || strings.Contains(string(data), testPassword) {
		t.Fatalf("published result carries the transcript: %s", data)
	}
	out, err := decodeShared(data)
	if err != nil || out.OK || out.Reason != probe.ReasonAuth || out.Err.Error() != "auth failed" ||
		out.Duration != in.Duration || out.Mechanism != "PLAIN" || len(out.Steps) != 1 {
		t.Fatalf("round trip: %+v %v", out, err)
	}
	for _, bad := range []string{"", "{", "[]", `{"duration_ns":-1}`, `{"ok":"yes"}`} {
		if _, err := decodeShared([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// Separate connect and deep rounds: a deep round of an instance without
// the lease probes nothing and only feeds; connect rounds stay local.
func TestLeasesSeparateRounds(t *testing.T) {
	fb := newFakeBackends()
	fb.deepOK["b1"] = false
	_, ins := leaseCluster(t, 2, fb, 1)
	for _, in := range ins {
		gen := in.e.gen.Load()
		gen.loops[0].group.DeepInterval = 2 * time.Second
	}
	for interval := range 2 {
		for _, in := range ins {
			l := in.e.gen.Load().loops[0]
			l.round(context.Background(), l.deepJobs)
		}
		connect, deep, by := fb.take()
		if connect != 0 || deep != leaseTargets || by["instance-0"] != leaseTargets {
			t.Fatalf("deep round %d: connect %d deep %d %v", interval, connect, deep, by)
		}
		for _, in := range ins {
			l := in.e.gen.Load().loops[0]
			l.round(context.Background(), l.connectJobs)
		}
		if connect, deep, _ := fb.take(); connect != 2*leaseTargets || deep != 0 {
			t.Fatalf("connect round %d: connect %d deep %d", interval, connect, deep)
		}
	}
	for i, in := range ins {
		b := backendByName(t, in.e.Snapshot(), "b1")
		if b.Deep.Healthy || b.Deep.ConsecutiveFailures != 2 || !b.Connect.Healthy || b.Connect.ConsecutiveSuccesses != 2 {
			t.Fatalf("instance %d: deep %+v connect %+v", i, b.Deep, b.Connect)
		}
	}
}

// Redis failing between a round's acquire and its publish: the holder's
// results are recorded locally, not lost, and the instance says it is
// probing locally.
func TestLeasesPublishFailureRecordsLocally(t *testing.T) {
	fb := newFakeBackends()
	fb.deepOK["b2"] = false
	_, ins := leaseCluster(t, 1, fb, 1)
	ins[0].store.failPublish.Store(true)
	ins[0].round(t)
	b := backendByName(t, ins[0].e.Snapshot(), "b2")
	if b.Deep.Healthy || b.Deep.ConsecutiveFailures != 1 || !b.Connect.Healthy {
		t.Fatalf("holder's result not recorded locally: deep %+v connect %+v", b.Deep, b.Connect)
	}
	if ins[0].shared() != 0 || ins[0].warned.Load() != 1 {
		t.Fatalf("shared %v, %d warnings", ins[0].shared(), ins[0].warned.Load())
	}
}
