package gateway

import (
	"slices"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

func backupOrigin(url string) string { return `{origin: "` + url + `", backup: true}` }

// A backup origin takes requests only while no primary is admitted, and
// gives them back as soon as one is.
func TestOriginsBackupOnlyWhenPrimariesAreOut(t *testing.T) {
	tr := &transcript{}
	a, b, spare := tr.origin(t, "a", nil), tr.origin(t, "b", nil), tr.origin(t, "spare", nil)
	h, e := passiveHarness(t, originsYAML("      beta_health:\n        interval: 1h\n", a, backupOrigin(spare), b))
	g := h.gw.HealthGroups()[0]
	if !slices.Equal(g.Backups, []bool{false, true, false}) {
		t.Fatalf("health group backups %v", g.Backups)
	}
	ids := g.IDs
	h.sendN(t, "GET", "/r1", "/r2", "/r3")
	drain, ready := health.AdminDrain, health.AdminReady
	for _, id := range []string{ids[0], ids[2]} {
		if _, err := e.SetAdmin(id, health.AdminChange{State: &drain}); err != nil {
			t.Fatal(err)
		}
	}
	h.sendN(t, "GET", "/r4", "/r5")
	if _, err := e.SetAdmin(ids[2], health.AdminChange{State: &ready}); err != nil {
		t.Fatal(err)
	}
	h.sendN(t, "GET", "/r6", "/r7")
	wantTranscript(t, tr, "a GET /r1", "b GET /r2", "a GET /r3", "spare GET /r4", "spare GET /r5", "b GET /r6", "b GET /r7")
}

// After a connect failure the retry goes to the next primary first; a
// backup only once every primary failed, within the retry budget.
func TestOriginsRetryPrimariesBeforeBackups(t *testing.T) {
	tr := &transcript{}
	refused, ok, spare := refusedOrigin(t), tr.origin(t, "ok", nil), tr.origin(t, "spare", nil)
	h := newHarness(t, originsYAML("      retries: 2\n", backupOrigin(spare), refused, ok))
	h.sendN(t, "GET", paths(4)...)
	if n := tr.count()["spare"]; n != 0 {
		t.Errorf("the backup got %d requests with a primary up: %q", n, tr.get())
	}
	if n := tr.count()["ok"]; n != 4 {
		t.Errorf("ok got %d of 4: %q", n, tr.get())
	}

	tr2 := &transcript{}
	spare2 := tr2.origin(t, "spare", nil)
	h2 := newHarness(t, originsYAML("      retries: 2\n", refusedOrigin(t), refusedOrigin(t), backupOrigin(spare2)))
	if codes := h2.sendN(t, "GET", "/x"); !slices.Equal(codes, []int{200}) {
		t.Fatalf("codes %v", codes)
	}
	wantTranscript(t, tr2, "spare GET /x")
	if got := metricSum(t, h2, "backline_gateway_origin_retries_total", "", ""); got != 2 {
		t.Errorf("retries = %v, want 2 (the second primary, then the backup)", got)
	}
	// One retry is spent on the second primary: the backup is not reached.
	h1 := newHarness(t, originsYAML("      retries: 1\n", refusedOrigin(t), refusedOrigin(t), backupOrigin(spare2)))
	resp, body := h1.do("GET", "/y", nil, nil)
	expectError(t, resp, body, 502, "backend")
	wantTranscript(t, tr2, "spare GET /x")
}

// Tiers: eligible primaries, eligible backups, then (use_when_unhealthy)
// unhealthy primaries, then unhealthy backups; an operator's drain holds.
func TestOriginCandidateTiers(t *testing.T) {
	b := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: config.BalanceRoundRobin, Origins: config.OriginList{
		{Origin: "http://127.0.0.1:1001"}, {Origin: "http://127.0.0.1:1002", Backup: true},
		{Origin: "http://127.0.0.1:1003"}, {Origin: "http://127.0.0.1:1004", Backup: true},
	}}}
	s := newOriginSet("api", b, nil)
	entry := func(i int, healthy bool, state health.AdminState) health.Backend {
		e := health.Backend{ID: s.origins[i].id, Weight: 1, Healthy: healthy, Admin: health.Admin{State: state}}
		e.Eligible, e.Reason = health.Eligibility(e, time.Now())
		return e
	}
	names := func(cs []candidate) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.o.origin.hostPort())
		}
		return out
	}
	for _, tt := range []struct {
		name     string
		healthy  [4]bool
		drained  [4]bool
		fallback bool
		want     []string
	}{
		{"primaries up", [4]bool{true, true, true, true}, [4]bool{}, false, []string{"127.0.0.1:1001", "127.0.0.1:1003"}},
		{"one primary up", [4]bool{false, true, true, true}, [4]bool{}, false, []string{"127.0.0.1:1003"}},
		{"backups", [4]bool{false, true, false, true}, [4]bool{}, true, []string{"127.0.0.1:1002", "127.0.0.1:1004"}},
		{"drained primaries", [4]bool{true, true, true, true}, [4]bool{true, false, true, false}, false, []string{"127.0.0.1:1002", "127.0.0.1:1004"}},
		{"unhealthy primaries first", [4]bool{}, [4]bool{}, true, []string{"127.0.0.1:1001", "127.0.0.1:1003"}},
		{"unhealthy backups last", [4]bool{}, [4]bool{true, false, true, false}, true, []string{"127.0.0.1:1002", "127.0.0.1:1004"}},
		{"nothing without use_when_unhealthy", [4]bool{}, [4]bool{}, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			snap := &health.Snapshot{}
			for i := range 4 {
				state := health.AdminReady
				if tt.drained[i] {
					state = health.AdminDrain
				}
				snap.Backends = append(snap.Backends, entry(i, tt.healthy[i], state))
			}
			got := names(s.candidates(snap, time.Now(), nil, tt.fallback, nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("candidates %v, want %v", got, tt.want)
			}
		})
	}
	// Without a health source every origin is admitted: primaries only.
	if got := names(s.candidates(nil, time.Now(), nil, false, nil)); !slices.Equal(got, []string{"127.0.0.1:1001", "127.0.0.1:1003"}) {
		t.Errorf("without health: %v", got)
	}
	// Tried primaries are skipped: the backups are next.
	if got := names(s.candidates(nil, time.Now(), []*upstreamOrigin{s.origins[0], s.origins[2]}, false, nil)); !slices.Equal(got, []string{"127.0.0.1:1002", "127.0.0.1:1004"}) {
		t.Errorf("after both primaries: %v", got)
	}
}
