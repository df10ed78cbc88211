package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// A drained backend that still serves its sticky users reads "draining" in
// ctl list, show (with since when and by whom) and explain; a drained one
// that serves nobody keeps reading "drain".
func TestCtlShowsDraining(t *testing.T) {
	setCtlClock(t, "2026-12-03T07:00:00Z")
	var backends []ctlBackend
	if err := json.Unmarshal([]byte(`[
 {"id":"mbox03","group":"backend_health_checks","protocol":"imap","host":"10.0.0.3","port":143,"healthy":true,
  "eligible":false,"reason":"drain","draining":true,"weight":1,
  "admin":{"state":"drain","weight":1,"health":"auto","who":"alice","why":"disk swap",
           "since":"2026-12-03T06:55:00Z","until":"2026-12-03T07:30:00Z","source":"api"}},
 {"id":"mbox04","group":"backend_health_checks","protocol":"imap","host":"10.0.0.4","port":143,"healthy":true,
  "eligible":false,"reason":"drain","draining":false,"weight":0,
  "admin":{"state":"drain","weight":0,"health":"auto","source":"api"}}]`), &backends); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	c := &ctlClient{stdout: &out, now: ctlNow}
	c.printList(backends)
	lines := strings.Split(out.String(), "\n")
	if !strings.Contains(lines[1], "mbox03") || !strings.Contains(lines[1], "draining 30m left") {
		t.Errorf("list row of the draining backend: %q", lines[1])
	}
	if !strings.Contains(lines[2], "mbox04") || strings.Contains(lines[2], "draining") || !strings.Contains(lines[2], " drain ") {
		t.Errorf("list row of a drain that serves nobody: %q", lines[2])
	}

	out.Reset()
	c.printBackend(backends[0])
	want := "draining:       yes since 2026-12-03T06:55:00Z by alice (no new users; under policy sticky, users stored for it stay until their affinity expires)"
	if !strings.Contains(out.String(), want) {
		t.Errorf("show lacks %q:\n%s", want, out.String())
	}
	out.Reset()
	c.printBackend(backends[1])
	if strings.Contains(out.String(), "draining") {
		t.Errorf("show of a drain that serves nobody:\n%s", out.String())
	}

	out.Reset()
	c.printExplain("alice", ctlExplain{Status: "ok", SelectedBy: "affinity",
		Candidates: []ctlCandidate{{ID: "mbox03", Reason: "drain", Draining: true, Chosen: true}, {ID: "mbox04", Reason: "drain"}}})
	if !strings.Contains(out.String(), "no (draining)") || !strings.Contains(out.String(), "no (drain)") {
		t.Errorf("explain:\n%s", out.String())
	}
}

// A gateway origin keeps no affinity: its draining line says so.
func TestCtlShowsDrainingOrigin(t *testing.T) {
	var out strings.Builder
	c := &ctlClient{stdout: &out, now: ctlNow}
	c.printBackend(ctlBackend{ID: "api@10.0.9.12:8080", Group: "gateway:api", Protocol: "http", Host: "10.0.9.12", Port: 8080,
		Draining: true, Admin: &ctlAdmin{State: "drain", Who: "ops"}})
	if !strings.Contains(out.String(), "yes by ops (no new requests; back in rotation at ready)") {
		t.Errorf("show of a draining origin:\n%s", out.String())
	}
}
