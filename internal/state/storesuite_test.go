package state

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/testfixture"
)

// The behavioural suites (admin, auth cache, rate counter, affinity, lease)
// each run against the memory store, miniredis, the fixture's redis-server
// and its Redis Cluster. storeBackend is what differs between those four:
// a suite's factory turns one into the suite's harness, and the on* runners
// below hand a fresh one to every subtest.

// storeBackend is a fresh, empty shared state for one subtest.
type storeBackend struct {
	// client returns another instance's client on the shared Redis (closed
	// with the test); nil for the memory store.
	client func() redis.UniversalClient
	prefix string // key prefix of this subtest on the shared Redis
	// advance moves the clock the store expires by (a real server's
	// clock cannot be moved, so there it waits); now reads that clock.
	advance func(time.Duration)
	now     func() time.Time
	// real is a real server: timed subtests use longer units and wait.
	real bool
}

// storeFactory builds a suite's harness H on a backend.
type storeFactory[H any] func(t *testing.T, b storeBackend) H

// onMemory is the memory store on a fake clock.
func onMemory[H any](factory storeFactory[H]) func(*testing.T) H {
	return func(t *testing.T) H {
		clock := newFakeClock()
		return factory(t, storeBackend{advance: clock.Advance, now: clock.Now})
	}
}

// onMiniredis is a miniredis per subtest whose clock (TIME and expiry)
// follows a fake clock.
func onMiniredis[H any](factory storeFactory[H]) func(*testing.T) H {
	return func(t *testing.T) H {
		m := miniredis.RunT(t)
		clock := newFakeClock()
		m.SetTime(clock.Now())
		return factory(t, storeBackend{
			client: func() redis.UniversalClient {
				c := redis.NewClient(&redis.Options{Addr: m.Addr()})
				t.Cleanup(func() { c.Close() })
				return c
			},
			prefix: "backline:",
			advance: func(d time.Duration) {
				clock.Advance(d)
				m.SetTime(clock.Now())
				m.FastForward(d)
			},
			now: clock.Now,
		})
	}
}

// onRealRedis is the fixture's redis-server, under a prefix of its own per
// subtest that is deleted afterwards.
func onRealRedis[H any](t *testing.T, factory storeFactory[H]) func(*testing.T) H {
	fx := testfixture.Load(t)
	addr := fx.Addr("REDIS")
	return func(t *testing.T) H {
		prefix := "backline-test:" + randomHex(t) + ":"
		t.Cleanup(func() { deletePrefix(t, addr, prefix) })
		return factory(t, storeBackend{
			client: func() redis.UniversalClient {
				c := redis.NewClient(&redis.Options{Addr: addr})
				t.Cleanup(func() { c.Close() })
				return c
			},
			prefix: prefix, advance: time.Sleep, now: time.Now, real: true,
		})
	}
}

// onCluster is the fixture's Redis Cluster with a client built from
// storage.redis.cluster: each store's multi-key scripts and transactions
// keep their keys under one hash tag, so they must work there.
func onCluster[H any](t *testing.T, factory storeFactory[H]) func(*testing.T) H {
	fx := testfixture.Load(t)
	return func(t *testing.T) H {
		prefix := "backline-test:" + randomHex(t) + ":"
		c, _ := fixtureClusterClient(t, fx)
		t.Cleanup(func() { clusterDeletePrefix(t, c, prefix) })
		return factory(t, storeBackend{
			client: func() redis.UniversalClient {
				c, _ := fixtureClusterClient(t, fx)
				return c
			},
			prefix: prefix, advance: time.Sleep, now: time.Now, real: true,
		})
	}
}

// The factories: one per store, memory when the backend has no client.

// openOn is a harness's open: every call hands out the one memory store,
// or a new Redis store (another instance) on the backend's shared Redis.
func openOn[S any](b storeBackend, memory func(now func() time.Time) S, onRedis func(c redis.UniversalClient, prefix string) S) func() S {
	if b.client == nil {
		s := memory(b.now)
		return func() S { return s }
	}
	return func() S { return onRedis(b.client(), b.prefix) }
}

// paced is a timed suite's advance on b. On a real server it sleeps, and
// measures how far the subtest has fallen behind its plan: every step runs
// later than planned by what the operations before it took (and by
// oversleeping), and with relative sleeps that adds up. A check on a TTL
// or window edge has margin of slack against that lag (the smallest one in
// the suite); once the lag is half of it, a failure would say more about
// the machine's load than about the store, so the subtest is skipped,
// saying so. The same steps run exactly on the memory store and miniredis
// (fake clocks): a skip loses only the real server's timing, never a
// behaviour. Checks after a longer lag are still lower bounds (expired,
// window over) and hold however late they run.
func (b storeBackend) paced(t *testing.T, margin time.Duration) func(time.Duration) {
	if !b.real {
		return b.advance
	}
	start, planned := time.Now(), time.Duration(0)
	return func(d time.Duration) {
		t.Helper()
		time.Sleep(d)
		planned += d
		if lag := time.Since(start) - planned; lag > margin/2 {
			t.Skipf("this machine ran %v behind the subtest's plan (more than half of its %v margin against a TTL or window edge on a real server): too loaded to judge; the memory store and miniredis run these steps exactly",
				lag.Round(time.Millisecond), margin)
		}
	}
}

// realOr is onReal on a real server (timed subtests wait), else moved.
func realOr(b storeBackend, onReal, moved time.Duration) time.Duration {
	if b.real {
		return onReal
	}
	return moved
}

func adminOn(t *testing.T, b storeBackend) adminHarness {
	return adminHarness{advance: b.advance, now: b.now, ttl: realOr(b, 2*time.Second, 0),
		open: openOn(b, func(now func() time.Time) AdminStore { return NewMemoryAdminStore(now) },
			func(c redis.UniversalClient, prefix string) AdminStore {
				s := NewRedisAdminStore(c, prefix)
				s.now = b.now
				return s
			})}
}

func authCacheOn(t *testing.T, b storeBackend) cacheHarness {
	// The expiry subtest's only check before the TTL has the whole TTL as
	// its margin.
	return cacheHarness{advance: b.paced(t, time.Second), ttl: realOr(b, time.Second, 0),
		open: openOn(b, func(now func() time.Time) AuthCacheStore { return NewMemoryAuthCacheStore(1000, now) },
			func(c redis.UniversalClient, prefix string) AuthCacheStore { return NewRedisAuthCacheStore(c, prefix) })}
}

func rateCounterOn(t *testing.T, b storeBackend) rateHarness {
	// A real server's clock cannot be moved: a tenth of the unit is the
	// margin a step has against it, and 50 ms (a 500 ms unit) was too
	// little with both cores busy (a request at 9/10 landed after 10/10).
	// Steps are tenths of the unit: that is the margin.
	return rateHarness{advance: b.paced(t, 200*time.Millisecond), now: b.now, exact: !b.real, unit: realOr(b, 2*time.Second, time.Second),
		open: openOn(b, func(func() time.Time) RateCounter { return NewMemoryRateCounter() },
			func(c redis.UniversalClient, prefix string) RateCounter { return NewRedisRateCounter(c, prefix) })}
}

func affinityOn(t *testing.T, b storeBackend) affinityHarness {
	// A get at 3 units of a 4-unit TTL: one unit (500 ms) of margin.
	return affinityHarness{advance: b.paced(t, 500*time.Millisecond), unit: realOr(b, 500*time.Millisecond, 0),
		open: openOn(b, func(now func() time.Time) AffinityStore { return NewMemoryAffinityStore(0, now) },
			func(c redis.UniversalClient, prefix string) AffinityStore { return NewRedisAffinityStore(c, prefix) })}
}

func leaseOn(t *testing.T, b storeBackend) leaseHarness {
	// A renewed lease is tried at 3/4 of its TTL: a quarter unit of margin,
	// 250 ms with a 1 s unit (75 ms with 300 ms was too little to run on a
	// loaded machine at all).
	return leaseHarness{advance: b.paced(t, 250*time.Millisecond), unit: realOr(b, time.Second, time.Second),
		open: openOn(b, func(now func() time.Time) LeaseStore { return NewMemoryLeaseStore(now) },
			func(c redis.UniversalClient, prefix string) LeaseStore { return NewRedisLeaseStore(c, prefix) })}
}

func TestMemoryAdminStoreSuite(t *testing.T)         { runAdminStoreSuite(t, onMemory(adminOn)) }
func TestRedisAdminStoreSuiteMiniredis(t *testing.T) { runAdminStoreSuite(t, onMiniredis(adminOn)) }
func TestRedisAdminStoreSuiteRealRedis(t *testing.T) { runAdminStoreSuite(t, onRealRedis(t, adminOn)) }
func TestRedisAdminStoreSuiteCluster(t *testing.T)   { runAdminStoreSuite(t, onCluster(t, adminOn)) }

func TestMemoryAuthCacheStoreSuite(t *testing.T) { runAuthCacheStoreSuite(t, onMemory(authCacheOn)) }
func TestRedisAuthCacheStoreSuiteMiniredis(t *testing.T) {
	runAuthCacheStoreSuite(t, onMiniredis(authCacheOn))
}
func TestRedisAuthCacheStoreSuiteRealRedis(t *testing.T) {
	runAuthCacheStoreSuite(t, onRealRedis(t, authCacheOn))
}
func TestRedisAuthCacheStoreSuiteCluster(t *testing.T) {
	runAuthCacheStoreSuite(t, onCluster(t, authCacheOn))
}

func TestMemoryRateCounterSuite(t *testing.T) { runRateCounterSuite(t, onMemory(rateCounterOn)) }
func TestRedisRateCounterSuiteMiniredis(t *testing.T) {
	runRateCounterSuite(t, onMiniredis(rateCounterOn))
}
func TestRedisRateCounterSuiteRealRedis(t *testing.T) {
	runRateCounterSuite(t, onRealRedis(t, rateCounterOn))
}
func TestRedisRateCounterSuiteCluster(t *testing.T) {
	runRateCounterSuite(t, onCluster(t, rateCounterOn))
}

func TestMemoryAffinityStoreSuite(t *testing.T) { runAffinityStoreSuite(t, onMemory(affinityOn)) }
func TestRedisAffinityStoreSuiteMiniredis(t *testing.T) {
	runAffinityStoreSuite(t, onMiniredis(affinityOn))
}
func TestRedisAffinityStoreSuiteRealRedis(t *testing.T) {
	runAffinityStoreSuite(t, onRealRedis(t, affinityOn))
}
func TestRedisAffinityStoreSuiteCluster(t *testing.T) {
	runAffinityStoreSuite(t, onCluster(t, affinityOn))
}

func TestMemoryLeaseStoreSuite(t *testing.T)         { runLeaseStoreSuite(t, onMemory(leaseOn)) }
func TestRedisLeaseStoreSuiteMiniredis(t *testing.T) { runLeaseStoreSuite(t, onMiniredis(leaseOn)) }
func TestRedisLeaseStoreSuiteRealRedis(t *testing.T) { runLeaseStoreSuite(t, onRealRedis(t, leaseOn)) }
func TestRedisLeaseStoreSuiteCluster(t *testing.T)   { runLeaseStoreSuite(t, onCluster(t, leaseOn)) }
