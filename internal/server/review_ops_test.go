package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/server/statuspagefake"
)

// A ramp is what an eligible origin gets of its weight. The gateway's ramp
// memory moves only with picks: an origin that went down mid-ramp with no
// request since still has its ramp there, yet it gets nothing (and once
// back it ramps anew). Neither the status API nor the page may say it
// gets a share of its weight while it is down.
func TestSlowStartNotShownForAnOriginThatIsDown(t *testing.T) {
	down := statuspagefake.Down(statuspagefake.Target("10.0.0.2:80", "http", "10.0.0.2", 80, false), "gateway:api", pageNow,
		probe.ReasonConnect, "connection refused")
	down.ID = "gateway:api@http://10.0.0.2:80"
	ramps := map[string]health.SlowStartRamp{down.ID: {
		Since: pageNow.Add(-15 * time.Second), Until: pageNow.Add(45 * time.Second), Share: 0.25}}
	snap := &health.Snapshot{Round: 1, Taken: pageNow, Backends: []health.Backend{down}}

	var buf bytes.Buffer
	if err := renderStatus(&buf, snap, ramps, "v-test", "", pageNow); err != nil {
		t.Fatal(err)
	}
	if p := parsePage(t, buf.String()); len(p.rows) != 1 || strings.Contains(p.rows[0].cells[cBackend], "slow start") {
		t.Errorf("a down origin's row: %q", p.rows)
	}
	h := New(Options{Snapshot: fixedSource{snap}, SlowStart: func(time.Time) map[string]health.SlowStartRamp { return ramps }}).Handler()
	for _, target := range []string{"/api/v1/backends", "/api/v1/backends?name=" + down.ID} {
		if body := do(t, h, "GET", target, nil).body; strings.Contains(body, "slow_start") {
			t.Errorf("%s shows a ramp for a down origin: %s", target, body)
		}
	}
}

// Every field the merge added to the page (connect check, panic note and
// roll-up flag, slow start) is escaped: a hostile group, name or value
// adds no element, attribute or script.
func TestStatusPageNewFieldsEscaped(t *testing.T) {
	group := "gateway:" + statuspagefake.Hostile
	origin := func(addr string, healthy bool) health.Backend {
		tg := statuspagefake.Target(statuspagefake.Hostile+addr, "http", "10.0.0.9", 80, false)
		tg.ConnectCheck = `tcp"><script>alert(2)</script>` + "\x00\r\n\x1b[2J"
		b := statuspagefake.Healthy(tg, group, pageNow)
		b.ID, b.PanicThreshold, b.Healthy = group+"@http://"+addr, 50, healthy
		b.Eligible, b.Reason = health.Eligibility(b, pageNow)
		return b
	}
	snap := &health.Snapshot{Round: 1, Taken: pageNow, Backends: []health.Backend{
		origin("10.0.0.1:80", true), origin("10.0.0.2:80", false), origin("10.0.0.3:80", false),
	}}
	ramps := map[string]health.SlowStartRamp{snap.Backends[0].ID: {
		Since: pageNow.Add(-time.Second), Until: pageNow.Add(time.Minute), Share: 0.1}}
	for _, q := range []string{"", "panic", "<script>", `"><`} {
		var buf bytes.Buffer
		if err := renderStatus(&buf, snap, ramps, "v-test", q, pageNow); err != nil {
			t.Fatal(err)
		}
		body := buf.String()
		p := parsePage(t, body) // one script, no <img>, no on* attribute
		for _, raw := range []string{"<script>alert", "<img src=x", `tcp">`, "\x00"} {
			if strings.Contains(body, raw) {
				t.Errorf("q=%q: %q reaches the page unescaped", q, raw)
			}
		}
		if q == "" || q == "panic" {
			if len(p.rows) != 3 || len(p.rollups) != 1 || !strings.Contains(p.rollups[0], "panic mode") {
				t.Errorf("q=%q: rows %d, roll-ups %q", q, len(p.rows), p.rollups)
			}
			if !strings.Contains(p.rollups[0], statuspagefake.Hostile) {
				t.Errorf("q=%q: the group name is not shown as text: %q", q, p.rollups[0])
			}
		}
	}
}

// Without a gateway (no SlowStart function) and with one that knows no
// ramp, the page and the API of gateway-looking backends work and say
// nothing of slow start.
func TestSlowStartAbsentGateway(t *testing.T) {
	b := statuspagefake.Healthy(statuspagefake.Target("10.0.0.1:80", "http", "10.0.0.1", 80, false), "gateway:api", pageNow)
	b.ID = "gateway:api@http://10.0.0.1:80"
	snap := &health.Snapshot{Round: 1, Taken: pageNow, Backends: []health.Backend{b}}
	for name, f := range map[string]func(time.Time) map[string]health.SlowStartRamp{
		"no gateway": nil,
		"no ramp":    func(time.Time) map[string]health.SlowStartRamp { return nil },
	} {
		h := New(Options{Snapshot: fixedSource{snap}, SlowStart: f}).Handler()
		page := do(t, h, "GET", "/", nil)
		if page.status != http.StatusOK || strings.Contains(page.body, "slow start") {
			t.Errorf("%s: page %d", name, page.status)
		}
		var body struct {
			Backends []map[string]json.RawMessage `json:"backends"`
		}
		if err := json.Unmarshal([]byte(do(t, h, "GET", "/api/v1/backends", nil).body), &body); err != nil || len(body.Backends) != 1 {
			t.Fatalf("%s: %v %v", name, err, body)
		}
		if _, ok := body.Backends[0]["slow_start"]; ok {
			t.Errorf("%s: slow_start present", name)
		}
	}
}
