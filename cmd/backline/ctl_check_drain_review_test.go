package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// Bug: ctl show said a check-drained backend was "draining since <the
// last admin change> by <its author>", blaming whoever last set the
// backend ready for a drain its own check answer started, and "back in
// rotation at ready", which does not end a check drain.
func TestReviewCtlShowsCheckDrain(t *testing.T) {
	setCtlClock(t, "2026-12-03T07:00:00Z")
	var b ctlBackend
	if err := json.Unmarshal([]byte(`{"id":"web","group":"backend_health_checks","protocol":"http","host":"10.0.0.9","port":80,
  "healthy":true,"eligible":false,"reason":"check_drain","draining":true,"check_drain_status":404,
  "check_drain_since":"2026-12-03T06:53:00Z","weight":1,
  "admin":{"state":"ready","weight":1,"health":"auto","who":"alice","since":"2026-11-30T07:00:00Z","source":"api"}}`), &b); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	c := &ctlClient{stdout: &out, now: ctlNow}
	c.printBackend(b)
	got := out.String()
	if strings.Contains(got, "by alice (no new") || strings.Contains(got, "since 2026-11-30T07:00:00Z (") {
		t.Errorf("check drain blamed on the admin change:\n%s", got)
	}
	if !strings.Contains(got, "draining:") || !strings.Contains(got, "since 2026-12-03T06:53:00Z") || !strings.Contains(got, "HTTP 404") {
		t.Errorf("show lacks the check drain's start and status:\n%s", got)
	}
}
