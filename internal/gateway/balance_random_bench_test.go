package gateway

import (
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// BenchmarkPickParallel is one pick from four candidates on every core
// at once, nothing else of the request: random and p2c draw from
// math/rand/v2's per-thread generator and share nothing but the
// origins' in-flight counters; weighted takes the set's lock per pick.
func BenchmarkPickParallel(b *testing.B) {
	for _, policy := range []string{config.BalanceRandom, config.BalanceP2C, config.BalanceLeastConnections, config.BalanceWeighted} {
		b.Run(policy, func(b *testing.B) {
			s := testOriginSet(b, policy, 0, 1, 2, 3, 4)
			cands := s.candidates(nil, time.Now(), nil, false, nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					o := s.choose(cands, requestKey{})
					o.inFlight.Add(1)
					o.inFlight.Add(-1)
				}
			})
		})
	}
}
