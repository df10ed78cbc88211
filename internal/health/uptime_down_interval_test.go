package health

import (
	"testing"
	"time"
)

// A backend on the down schedule is probed down_interval apart, longer
// than its group's stale time here: the time between two down probes is
// checked time (down), not unchecked, or a long down_interval would make
// an outage count for a fraction of its length in the uptime ratios.
func TestUptimeCountsDownIntervalGapsAsDown(t *testing.T) {
	c := &scriptChecker{script: map[string][]bool{"a/connect": {true, false}}}
	g := fastGroup(1, 1, true, mailTarget("a", 1, false))
	g.ConnectInterval, g.DeepInterval, g.FastInterval = time.Second, time.Second, 0
	g.DownInterval = time.Hour
	d := newDriven(t, g, c)
	d.round() // up
	d.fs.clock.advance(time.Second)
	d.round() // down: on the down schedule from here
	b := backendByName(t, d.e.Snapshot(), "a")
	if b.Healthy || !d.l.states[0].downScheduled {
		t.Fatalf("healthy %v, down scheduled %v", b.Healthy, d.l.states[0].downScheduled)
	}
	if b.StaleAfter >= g.DownInterval {
		t.Fatalf("stale after %s: the test needs it below down_interval", b.StaleAfter)
	}
	for range 2 {
		d.fs.clock.advance(g.DownInterval)
		d.l.fireFast()
		d.kicked()
	}
	u := backendByName(t, d.e.Snapshot(), "a").Uptime
	if u.Hour.Checked != time.Hour || u.Hour.Ratio != 0 {
		t.Fatalf("last hour %+v, want an hour checked, all of it down", u.Hour)
	}
	if want := 2*time.Hour + time.Second; u.Day.Checked != want {
		t.Fatalf("day checked %s, want %s (1s up, two down intervals down)", u.Day.Checked, want)
	}
	d.l.stopFast()
}
