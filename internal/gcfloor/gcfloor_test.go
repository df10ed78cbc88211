package gcfloor

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestPercentFor(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		base, want  int
	}{
		{live: 1 << 20, floor: 32 << 20, base: 100, want: 800},  // the runtime's 4 MiB minimum × 8 = 32 MiB
		{live: 8 << 20, floor: 32 << 20, base: 100, want: 300},  // goal 32 MiB
		{live: 16 << 20, floor: 32 << 20, base: 100, want: 100}, // GOGC=100 reaches it
		{live: 20 << 20, floor: 32 << 20, base: 100, want: 100},
		{live: 12 << 20, floor: 32 << 20, base: 100, want: 166},
		{live: 1 << 10, floor: 32 << 20, base: 100, want: 800},
		{live: 0, floor: 32 << 20, base: 100, want: 800},
		{live: 0, floor: 2 << 20, base: 100, want: 100},          // a floor under the runtime's minimum changes nothing
		{live: 1 << 20, floor: 32 << 20, base: 5000, want: 5000}, // an operator's GOGC above the floor's
		{live: 64 << 20, floor: 32 << 20, base: 50, want: 50},
	} {
		if got := percentFor(c.live, c.floor, c.base); got != c.want {
			t.Errorf("percentFor(%d, %d, %d) = %d, want %d", c.live, c.floor, c.base, got, c.want)
		}
	}
}

// TestTunerRaisesAndRestores runs real collections: with almost nothing
// live the tuner raises the percentage, and Stop puts the old one back.
func TestTunerRaisesAndRestores(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	tu := Start(32 << 20)
	raised := false
	for i := 0; i < 50 && !raised; i++ { // cleanups run after the cycle, asynchronously
		runtime.GC()
		runtime.Gosched()
		raised = tu.Percent() > 100
	}
	if !raised {
		t.Fatalf("percent stayed %d with a tiny live heap", tu.Percent())
	}
	if now := debug.SetGCPercent(-1); now != tu.Percent() {
		t.Errorf("runtime percent %d, tuner says %d", now, tu.Percent())
	}
	debug.SetGCPercent(tu.Percent())
	tu.Stop()
	if now := debug.SetGCPercent(100); now != 100 {
		t.Errorf("after Stop the percent is %d, want the 100 found at Start", now)
	}
	for i := 0; i < 3; i++ {
		runtime.GC() // a stopped tuner's cleanup does not set it again
	}
	if now := debug.SetGCPercent(100); now != 100 {
		t.Errorf("a stopped tuner changed the percent to %d", now)
	}
}

// TestGOGCOffIsLeftAlone: an operator's GOGC=off is kept.
func TestGOGCOffIsLeftAlone(t *testing.T) {
	orig := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(orig)
	tu := Start(32 << 20)
	defer tu.Stop()
	runtime.GC()
	if now := debug.SetGCPercent(-1); now != -1 {
		t.Errorf("percent %d, want -1 (off) kept", now)
	}
}
