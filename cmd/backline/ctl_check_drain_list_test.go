package main

import (
	"strings"
	"testing"
	"time"
)

// ctl list's ADMIN cell tells a drain the check asked for (drain_on_status)
// from an admin drain: the admin state and its TTL stay as they are, and
// "check drain" is added; an admin drain reads "draining" as before.
func TestCtlListAdminCellCheckDrain(t *testing.T) {
	setCtlClock(t, "2026-12-03T07:00:00Z")
	c := &ctlClient{stdout: &strings.Builder{}, now: ctlNow}
	until := &ctlTime{time.Date(2026, 12, 3, 7, 30, 0, 0, time.UTC)}
	for _, tc := range []struct {
		name                 string
		admin                *ctlAdmin
		draining, checkDrain bool
		want                 string
	}{
		{"check drain, ready", &ctlAdmin{State: "ready"}, true, true, "ready, check drain"},
		{"check drain, ready with a TTL", &ctlAdmin{State: "ready", Until: until}, true, true, "ready 30m left, check drain"},
		{"check drain, no admin state", nil, true, true, "check drain"},
		{"admin drain and check drain", &ctlAdmin{State: "drain", Until: until}, true, true, "draining 30m left"},
		{"admin drain", &ctlAdmin{State: "drain"}, true, false, "draining"},
		{"ready", &ctlAdmin{State: "ready"}, false, false, "ready"},
		{"none", nil, false, false, "-"},
	} {
		if got := c.ctlAdminCell(tc.admin, tc.draining, tc.checkDrain); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
