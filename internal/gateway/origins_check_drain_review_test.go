package gateway

import (
	"slices"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
)

// A check-drained origin (drain_on_status) is kept out as an admin-drained
// one is: not in a panic's widened pool, not under use_when_unhealthy, not
// counted as in service, and its backups take over when no primary is left.
func TestReviewOriginCheckDrain(t *testing.T) {
	const o1, o2, o3, o4 = "127.0.0.1:1000", "127.0.0.1:2000", "127.0.0.1:3000", "127.0.0.1:4000"
	for _, tt := range []struct {
		name             string
		threshold        int
		backups, healthy []bool
		drained          []bool
		useWhenUnhealthy bool
		want             []string
	}{
		{"drained stays out of panic and does not count", 51, []bool{false, false, false, false},
			[]bool{true, false, true, true}, []bool{false, false, true, true}, false, []string{o1, o2}},
		{"1 of 2 in service is not below 50", 50, []bool{false, false, false, false},
			[]bool{true, false, true, true}, []bool{false, false, true, true}, false, []string{o1}},
		{"use_when_unhealthy skips it", 0, []bool{false, false, false, false},
			[]bool{false, false, true, false}, []bool{false, false, true, false}, true, []string{o1, o2, o4}},
		{"backups take over from drained primaries", 0, []bool{false, false, true, true},
			[]bool{true, true, true, true}, []bool{true, true, false, false}, false, []string{o3, o4}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := panicSet(tt.threshold, tt.backups...)
			g := health.Group{Name: "gateway:api", PanicThreshold: tt.threshold, Backups: tt.backups}
			snap := &health.Snapshot{}
			now := time.Now()
			for i, o := range s.origins {
				e := health.Backend{ID: o.id, Group: g.Name, Weight: 1, Healthy: tt.healthy[i], Backup: tt.backups[i], PanicThreshold: tt.threshold}
				if tt.drained[i] {
					e.CheckDrainStatus = 404
				}
				e.Eligible, e.Reason, e.Draining = health.Assess(e, now)
				snap.Backends = append(snap.Backends, e)
			}
			got := candidateNames(s.candidates(snap, now, nil, tt.useWhenUnhealthy, nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("candidates %v, want %v", got, tt.want)
			}
		})
	}
}
