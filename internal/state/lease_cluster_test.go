package state

import (
	"testing"
	"time"

	"github.com/backline/backline/internal/testfixture"
)

// The lease suite on the fixture's Redis Cluster: each script's keys
// share one backend's hash tag; Fetch's pipeline spans slots.
func TestRedisLeaseStoreSuiteCluster(t *testing.T) {
	fx := testfixture.Load(t)
	runLeaseStoreSuite(t, func(t *testing.T) leaseHarness {
		prefix := "backline-test:" + randomHex(t) + ":"
		c, _ := fixtureClusterClient(t, fx)
		t.Cleanup(func() { clusterDeletePrefix(t, c, prefix) })
		return leaseHarness{
			open: func() LeaseStore {
				c, _ := fixtureClusterClient(t, fx)
				return NewRedisLeaseStore(c, prefix)
			},
			advance: time.Sleep,
			unit:    300 * time.Millisecond,
		}
	})
}
