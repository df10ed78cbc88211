package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUptimeSurvivesRestartOnRedis: a daemon with storage.redis saves its
// uptime history when it stops, and the next daemon on the same Redis
// starts with it (docs/operations.md, "Uptime"); /metrics exports it.
func TestUptimeSurvivesRestartOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("short suite: starts redis-server and two daemons")
	}
	redis := startPrivateRedis(t)
	backends := []*fakeIMAP{startFakeIMAP(t)}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "api.pw"), threeAPIPassword+"\n")
	writeFile(t, filepath.Join(dir, "probe.pw"), "probe-password\n")
	writeFile(t, filepath.Join(dir, "cache.key"), strings.Repeat("k3y-", 12)+"\n")
	writeFile(t, filepath.Join(dir, "passwd"), "")
	bin := buildBackline(t)
	start := func(name string) *instance {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		return startInstance(t, bin, name, dir, addr, threeConfig(dir, addr, redis.addr(), backends))
	}
	weekChecked := func(in *instance) float64 {
		t.Helper()
		code, body := in.call(t, http.MethodGet, "/api/v1/backends/m00", "")
		if code != http.StatusOK {
			t.Fatalf("GET m00: %d %s", code, body)
		}
		var b struct {
			Uptime map[string]struct {
				Ratio          *float64 `json:"ratio"`
				CheckedSeconds float64  `json:"checked_seconds"`
			} `json:"uptime"`
		}
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatal(err)
		}
		w := b.Uptime["7d"]
		if w.CheckedSeconds > 0 && (w.Ratio == nil || *w.Ratio != 1) {
			t.Fatalf("m00 is always up, uptime %s", body)
		}
		return w.CheckedSeconds
	}

	first := start("b0")
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing assertion
	for weekChecked(first) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no uptime counted within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, metrics := first.call(t, http.MethodGet, "/metrics", "")
	if !strings.Contains(metrics, `backline_backend_uptime_ratio{group="backend_health_checks",name="m00",window="7d"} 1`) {
		t.Errorf("no uptime series in /metrics")
	}
	before := weekChecked(first)
	first.killed = true // stopped here, not by the cleanup
	_ = first.cmd.Process.Signal(syscall.SIGTERM)
	<-first.exited

	// The second daemon loads what the first saved (it says so) and counts
	// on from there.
	second := start("b1")
	deadline = time.Now().Add(30 * time.Second)
	for !strings.Contains(second.logs.String(), `msg="uptime history loaded from the store" backends=1`) {
		if time.Now().After(deadline) {
			t.Fatalf("no history loaded within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		after := weekChecked(second) // shown from the round after the load
		if after >= before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a restart the week has %.3fs checked, the first daemon had %.3fs", after, before)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
