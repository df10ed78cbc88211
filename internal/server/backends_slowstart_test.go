package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/server/statuspagefake"
)

// An origin whose slow_start ramp runs shows it in the status API (list
// and single backend) and on its status page row; the others show nothing.
func TestSlowStartRampShown(t *testing.T) {
	since := time.Now().Add(-30 * time.Second).UTC()
	ramping := "gateway:api@http://10.0.0.2:80"
	ramps := func(time.Time) map[string]health.SlowStartRamp {
		return map[string]health.SlowStartRamp{ramping: {Since: since, Until: since.Add(time.Minute), Share: 0.5}}
	}
	snap := &health.Snapshot{Backends: []health.Backend{
		{ID: "gateway:api@http://10.0.0.1:80", Group: "gateway:api", Weight: 1, Healthy: true, Eligible: true},
		{ID: ramping, Group: "gateway:api", Weight: 1, Healthy: true, Eligible: true},
	}}
	h := New(Options{Snapshot: fixedSource{snap}, SlowStart: ramps}).Handler()
	var body struct {
		Backends []struct {
			ID        string         `json:"id"`
			SlowStart *slowStartView `json:"slow_start"`
		} `json:"backends"`
	}
	if err := json.Unmarshal([]byte(do(t, h, "GET", "/api/v1/backends", nil).body), &body); err != nil {
		t.Fatal(err)
	}
	if body.Backends[0].SlowStart != nil {
		t.Errorf("a steady origin shows a ramp: %+v", body.Backends[0].SlowStart)
	}
	if r := body.Backends[1].SlowStart; r == nil || r.Share != 0.5 || !r.Since.Equal(since) || !r.Until.Equal(since.Add(time.Minute)) {
		t.Errorf("ramping origin: %+v", r)
	}
	var one struct {
		SlowStart *slowStartView `json:"slow_start"`
	}
	got := do(t, h, "GET", "/api/v1/backends?name="+ramping, nil).body
	if err := json.Unmarshal([]byte(got), &one); err != nil || one.SlowStart == nil || one.SlowStart.Share != 0.5 {
		t.Errorf("one backend: %v %s", err, got)
	}
	plain := do(t, New(Options{Snapshot: fixedSource{snap}}).Handler(), "GET", "/api/v1/backends", nil).body
	if strings.Contains(plain, "slow_start") {
		t.Errorf("without a gateway: %s", plain)
	}
}

func TestStatusPageSlowStartRow(t *testing.T) {
	origin := func(id string) health.Backend {
		b := statuspagefake.Healthy(statuspagefake.Target(id, "http", "10.0.0.9", 80, false), "gateway:api", pageNow)
		b.ID = "gateway:api@http://" + id
		return b
	}
	snap := &health.Snapshot{Round: 1, Backends: []health.Backend{origin("10.0.0.1:80"), origin("10.0.0.2:80")}}
	ramps := map[string]health.SlowStartRamp{"gateway:api@http://10.0.0.2:80": {
		Since: pageNow.Add(-15 * time.Second), Until: pageNow.Add(45 * time.Second), Share: 0.25}}
	var buf bytes.Buffer
	if err := renderStatus(&buf, snap, ramps, "v-test", "", pageNow); err != nil {
		t.Fatal(err)
	}
	p := parsePage(t, buf.String())
	for _, r := range p.rows {
		has := strings.Contains(r.cells[cBackend], "slow start 25 % of its weight, full in 45s")
		if has != (r.id == "gateway:api@http://10.0.0.2:80") {
			t.Errorf("%s: backend cell %q", r.id, r.cells[cBackend])
		}
	}
}
