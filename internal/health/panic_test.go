package health

import (
	"testing"
	"time"
)

func TestJudgePanic(t *testing.T) {
	for _, tt := range []struct {
		name              string
		threshold         int
		prim, back        PanicCount
		panic, backupTier bool
	}{
		{"off", 0, PanicCount{0, 4}, PanicCount{}, false, false},
		{"below", 50, PanicCount{1, 4}, PanicCount{}, true, false},
		{"at the threshold", 50, PanicCount{2, 4}, PanicCount{}, false, false},
		{"100 percent: one out is panic", 100, PanicCount{3, 4}, PanicCount{}, true, false},
		{"nothing usable", 50, PanicCount{0, 0}, PanicCount{}, false, true},
		{"nothing eligible", 50, PanicCount{0, 3}, PanicCount{0, 2}, true, false},
		{"healthy backups first", 50, PanicCount{0, 3}, PanicCount{2, 2}, false, true},
		{"backups below", 50, PanicCount{0, 3}, PanicCount{1, 3}, true, true},
		{"no primary usable: backups", 50, PanicCount{0, 0}, PanicCount{0, 2}, true, true},
		{"primaries judged while one is eligible", 50, PanicCount{1, 3}, PanicCount{2, 2}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := JudgePanic(tt.threshold, tt.prim, tt.back)
			if st.Panic != tt.panic || st.Backups != tt.backupTier || st.Threshold != tt.threshold {
				t.Errorf("JudgePanic = %+v, want panic %v, backups %v", st, tt.panic, tt.backupTier)
			}
		})
	}
}

func TestGroupPanicCountsOneGroup(t *testing.T) {
	now := time.Now()
	entry := func(group string, healthy bool, state AdminState, weight int) Backend {
		b := Backend{Group: group, Weight: weight, Healthy: healthy, PanicThreshold: 50, Admin: Admin{State: state}}
		b.Eligible, b.Reason = Eligibility(b, now)
		return b
	}
	snap := &Snapshot{Backends: []Backend{
		entry("gateway:api", true, AdminReady, 1),
		entry("gateway:api", false, AdminReady, 1),
		entry("gateway:api", false, AdminMaint, 1),   // an operator's: not counted
		entry("gateway:api", false, AdminReady, 0),   // weight 0: not counted
		entry("gateway:other", false, AdminReady, 1), // another group
	}}
	st := GroupPanic(snap, "gateway:api", now)
	if st.Panic || st.Eligible != 1 || st.Usable != 2 || st.Threshold != 50 {
		t.Errorf("GroupPanic = %+v, want 1 of 2 usable, no panic at 50", st)
	}
	// An ejection that has ended counts as eligible even before the next
	// snapshot says so.
	ej := Backend{Group: "g", Weight: 1, Healthy: true, PanicThreshold: 50, EjectedUntil: now.Add(-time.Second), Eligible: false, Reason: ReasonPassive}
	st = GroupPanic(&Snapshot{Backends: []Backend{ej, entry("g", false, AdminReady, 1)}}, "g", now)
	if st.Eligible != 1 || st.Usable != 2 || st.Panic {
		t.Errorf("GroupPanic with an ended ejection = %+v", st)
	}
}
