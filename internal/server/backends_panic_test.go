package server

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
)

// Each origin of a backend with panic_threshold shows its backend's panic
// mode; backends without one show nothing.
func TestBackendsPanicField(t *testing.T) {
	now := time.Now()
	origin := func(id string, healthy bool) health.Backend {
		b := health.Backend{ID: id, Group: "gateway:api", Weight: 1, Healthy: healthy, PanicThreshold: 50,
			Admin: health.Admin{State: health.AdminReady, Weight: 1}}
		b.Eligible, b.Reason = health.Eligibility(b, now)
		return b
	}
	snap := &health.Snapshot{Backends: []health.Backend{
		origin("gateway:api@http://10.0.0.1:80", true),
		origin("gateway:api@http://10.0.0.2:80", false),
		origin("gateway:api@http://10.0.0.3:80", false),
		{ID: "imap-a", Group: health.GroupMail, Weight: 1, Healthy: true, Eligible: true},
	}}
	got := do(t, New(Options{Snapshot: fixedSource{snap}}).Handler(), "GET", "/api/v1/backends", nil)
	var body struct {
		Backends []struct {
			ID    string         `json:"id"`
			Panic map[string]any `json:"panic"`
		} `json:"backends"`
	}
	if err := json.Unmarshal([]byte(got.body), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"threshold": 50.0, "active": true, "tier": "primary", "eligible": 1.0, "usable": 3.0}
	for _, b := range body.Backends[:3] {
		for k, v := range want {
			if b.Panic[k] != v {
				t.Errorf("%s: panic %v, want %v", b.ID, b.Panic, want)
				break
			}
		}
	}
	if body.Backends[3].Panic != nil {
		t.Errorf("mail backend shows panic %v", body.Backends[3].Panic)
	}
	one := do(t, New(Options{Snapshot: fixedSource{snap}}).Handler(), "GET", "/api/v1/backends?name=gateway:api@http://10.0.0.2:80", nil)
	var single struct {
		Panic *panicView `json:"panic"`
	}
	if err := json.Unmarshal([]byte(one.body), &single); err != nil {
		t.Fatal(err)
	}
	if single.Panic == nil || *single.Panic != (panicView{Threshold: 50, Active: true, Tier: "primary", Eligible: 1, Usable: 3}) {
		t.Errorf("one backend: %s", one.body)
	}
}
