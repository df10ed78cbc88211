package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// healthServices is a mail group of targets on closed loopback ports, so
// every check fails at once; one round an hour, so only the start and each
// reload (which starts a round) probe.
func healthServices(names ...string) string {
	var b strings.Builder
	b.WriteString("    enabled: [backend_health_checks]\n    backend_health_checks:\n" +
		"      connect_interval: 1h\n      connect_timeout: 1s\n      failure_threshold: 1\n      targets:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "        - name: %s\n          protocol: imap\n          host: 127.0.0.1\n          port: %d\n", n, closedPort)
	}
	return b.String()
}

// closedPort is a loopback port nothing listens on (port 1, tcpmux, is
// not served on a test machine; a refused connect fails the check at once).
const closedPort = 1

type backendsAnswer struct {
	Round    uint64 `json:"round"`
	Backends []struct {
		ID      string `json:"id"`
		Healthy bool   `json:"healthy"`
		Connect struct {
			ConsecutiveFailures int `json:"consecutive_failures"`
		} `json:"connect"`
	} `json:"backends"`
}

func (f *reloadFixture) backends() backendsAnswer {
	f.t.Helper()
	_, body := httpGet(f.t, "http://"+f.api+"/api/v1/backends")
	var a backendsAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		f.t.Fatalf("%v: %s", err, body)
	}
	return a
}

// failures waits until backend id has failed n checks in a row and returns
// the answer.
func (f *reloadFixture) waitFailures(id string, n int) backendsAnswer {
	f.t.Helper()
	var a backendsAnswer
	waitFor(f.t, fmt.Sprintf("%s to fail %d checks", id, n), func() bool {
		a = f.backends()
		for _, b := range a.Backends {
			if b.ID == id && b.Connect.ConsecutiveFailures >= n {
				return true
			}
		}
		return false
	})
	return a
}

// A backend that was down before a reload is still down after it, with its
// counters going on; an added one appears, a removed one disappears from
// the API and from /metrics.
func TestReloadKeepsHealthState(t *testing.T) {
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a", services: healthServices("down1")})
	f.waitFailures("down1", 1)

	f.write(fileVersion{filterPort: 1143, origin: "a", services: healthServices("down1", "new1")})
	if status, a := f.reload(); status != 200 {
		t.Fatalf("reload: %d %+v", status, a)
	}
	a := f.waitFailures("down1", 2) // the reload's round counted on top of the first
	var ids []string
	for _, b := range a.Backends {
		ids = append(ids, b.ID)
		if b.ID == "down1" && b.Healthy {
			t.Error("down1 healthy again after the reload")
		}
	}
	if strings.Join(ids, ",") != "down1,new1" {
		t.Errorf("backends %v", ids)
	}

	f.write(fileVersion{filterPort: 1143, origin: "a", services: healthServices("new1")})
	if status, a := f.reload(); status != 200 {
		t.Fatalf("reload: %d %+v", status, a)
	}
	a = f.waitFailures("new1", 2)
	if len(a.Backends) != 1 || a.Backends[0].ID != "new1" {
		t.Errorf("after removing down1: %+v", a.Backends)
	}
	if _, body := httpGet(t, "http://"+f.api+"/metrics"); strings.Contains(body, `name="down1"`) {
		t.Errorf("removed backend still in /metrics:\n%s", grepLines(body, "down1"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
