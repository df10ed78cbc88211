package health

import (
	"fmt"
	"testing"
)

func TestGateSequences(t *testing.T) {
	tests := []struct {
		name      string
		initial   bool
		fail, rec int
		probes    string // s = success, f = failure
		want      string // gate state after each probe: H or U
	}{
		{"thresholds 1/1 follow every probe", true, 1, 1, "fsfs", "UHUH"},
		{"three failures in a row to go down", true, 3, 2, "fffs", "HHUU"},
		{"a success resets the failure count", true, 3, 2, "ffsfff", "HHHHHU"},
		{"two successes in a row to come back", true, 3, 2, "fffsfss", "HHUUUUH"},
		{"healthy success resets successes (quirk)", true, 2, 2, "sssff", "HHHHU"},
		{"unhealthy failure resets failures (quirk)", true, 1, 3, "fffsss", "UUUUUH"},
		{"thresholds below 1 are clamped to 1", true, 0, -5, "fsf", "UHU"},
		{"initial unhealthy needs recovery", false, 2, 2, "sfsss", "UUUHH"},
		{"initial unhealthy stays down on failures", false, 1, 1, "ffs", "UUH"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate(tc.initial, tc.fail, tc.rec)
			got := ""
			for _, p := range tc.probes {
				g.record(p == 's')
				got += map[bool]string{true: "H", false: "U"}[g.healthy]
			}
			if got != tc.want {
				t.Fatalf("probes %s: states %s, want %s", tc.probes, got, tc.want)
			}
		})
	}
}

func TestGateReportsChangesOnlyOnFlip(t *testing.T) {
	g := newGate(true, 2, 2)
	var changes []bool
	for _, ok := range []bool{false, false, false, true, true, true} {
		changes = append(changes, g.record(ok))
	}
	if got, want := fmt.Sprint(changes), "[false true false false true false]"; got != want {
		t.Fatalf("changes %s, want %s", got, want)
	}
}

func TestGateStreaksIgnoreTheQuirk(t *testing.T) {
	g := newGate(true, 2, 2)
	for range 5 {
		g.record(false)
	}
	if g.streakFailures != 5 || g.streakSuccesses != 0 {
		t.Fatalf("after 5 failures: streaks f=%d s=%d, want 5/0", g.streakFailures, g.streakSuccesses)
	}
	if g.failures != 0 {
		t.Fatalf("quirk counter after going down = %d, want 0", g.failures)
	}
	for range 3 {
		g.record(true)
	}
	if g.streakFailures != 0 || g.streakSuccesses != 3 {
		t.Fatalf("after 3 successes: streaks f=%d s=%d, want 0/3", g.streakFailures, g.streakSuccesses)
	}
}
