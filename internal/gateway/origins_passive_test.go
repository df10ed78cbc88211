package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/backline/backline/internal/health"
)

// passiveHarness is a gateway with its health engine (not running: no
// scheduled probes; ejections and admin changes publish at once).
func passiveHarness(t *testing.T, yml string) (*harness, *health.Engine) {
	t.Helper()
	h := newHarness(t, yml)
	e, err := health.New(h.gw.HealthGroups(), passChecker{}, health.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.gw.SetHealth(e)
	return h, e
}

const passiveBlock = `      beta_health:
        interval: 1h
      passive_health:
        consecutive_5xx: 2
        base_ejection_time: 1h
`

func reasons(e *health.Engine) map[string]string {
	out := map[string]string{}
	for _, b := range e.Snapshot().Backends {
		out[b.Target.Name] = string(b.Reason)
	}
	return out
}

func TestOriginsPassiveEjectsFailingOrigin(t *testing.T) {
	tr := &transcript{}
	bad, good := tr.origin(t, "bad", status500), tr.origin(t, "good", nil)
	h, e := passiveHarness(t, originsYAML(passiveBlock, bad, good))
	codes := h.sendN(t, "GET", paths(6)...)
	if want := []int{500, 200, 500, 200, 200, 200}; !slices.Equal(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	wantTranscript(t, tr, "bad GET /r1", "good GET /r2", "bad GET /r3", "good GET /r4", "good GET /r5", "good GET /r6")
	badName := "api@" + strings.TrimPrefix(bad, "http://")
	if r := reasons(e)[badName]; r != "passive" {
		t.Errorf("reason of %s = %q, want passive (%v)", badName, r, reasons(e))
	}
}

// A slow origin (ttfb timeout) and a refusing one count as failures too.
func TestOriginsPassiveCountsTimeoutsAndRefusals(t *testing.T) {
	tr := &transcript{}
	stop := make(chan struct{})
	slow := tr.origin(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	defer close(stop)
	refused := refusedOrigin(t)
	good := tr.origin(t, "good", nil)
	// ttfb 1 s (was 50 ms): the good origin's answers must come within
	// it, and on a loaded machine an in-process origin can take longer.
	h, e := passiveHarness(t, originsYAML(`      ttfb_timeout: 1s
      retries: 0
      beta_health:
        interval: 1h
      passive_health:
        consecutive_5xx: 1
        base_ejection_time: 1h
        max_ejection_percent: 100
`, slow, refused, good))
	codes := h.sendN(t, "GET", paths(5)...)
	// r1 slow (ejected), r2 the second turn of [refused good], r3 refused
	// (ejected), then good only.
	if want := []int{504, 200, 502, 200, 200}; !slices.Equal(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	wantTranscript(t, tr, "slow GET /r1", "good GET /r2", "good GET /r4", "good GET /r5")
	got := reasons(e)
	if got["api@"+strings.TrimPrefix(slow, "http://")] != "passive" || got["api@"+strings.TrimPrefix(refused, "http://")] != "passive" {
		t.Errorf("reasons %v", got)
	}
}

// However many origins fail, no more than max_ejection_percent of them are
// out at once: the rest keep getting their share.
func TestOriginsPassiveShareNeverExceeded(t *testing.T) {
	tr := &transcript{}
	var origins []string
	for i := range 4 {
		origins = append(origins, tr.origin(t, fmt.Sprintf("o%d", i), status500))
	}
	h, e := passiveHarness(t, originsYAML(`      beta_health:
        interval: 1h
      passive_health:
        consecutive_5xx: 1
        base_ejection_time: 1h
        max_ejection_percent: 50
`, origins...))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				h.do("GET", "/x", nil, nil)
				ejected := 0
				for _, r := range reasons(e) {
					if r == "passive" {
						ejected++
					}
				}
				if ejected > 2 {
					t.Errorf("%d of 4 ejected at 50%%", ejected)
				}
			}
		})
	}
	wg.Wait()
	ejected := 0
	for _, r := range reasons(e) {
		if r == "passive" {
			ejected++
		}
	}
	if ejected != 2 {
		t.Errorf("%d ejected, want exactly 2: %v", ejected, reasons(e))
	}
	if n := len(tr.count()); n != 4 {
		t.Errorf("origins reached %v", tr.count())
	}
}

// A reload builds a new gateway; the engine keeps the ejection by ID and
// the new gateway honours it.
func TestOriginsPassiveSurvivesReload(t *testing.T) {
	tr := &transcript{}
	bad, good := tr.origin(t, "bad", status500), tr.origin(t, "good", nil)
	yml := originsYAML(passiveBlock, bad, good)
	h, e := passiveHarness(t, yml)
	h.sendN(t, "GET", paths(3)...) // bad, good, bad: ejected
	h2 := newHarness(t, yml)
	if err := e.Reconfigure(h2.gw.HealthGroups()); err != nil {
		t.Fatal(err)
	}
	h2.gw.SetHealth(e)
	h2.sendN(t, "GET", "/after1", "/after2")
	wantTranscript(t, tr, "bad GET /r1", "good GET /r2", "bad GET /r3", "good GET /after1", "good GET /after2")
}

// use_when_unhealthy falls back to an unhealthy or ejected origin, never
// to one an operator took out.
func TestOriginsUseWhenUnhealthyFallback(t *testing.T) {
	tr := &transcript{}
	a, b := tr.origin(t, "a", status500), tr.origin(t, "b", nil)
	h, e := passiveHarness(t, strings.Replace(originsYAML(`      beta_health:
        interval: 1h
      passive_health:
        consecutive_5xx: 1
        base_ejection_time: 1h
        max_ejection_percent: 100
`, a, b), "        backend: api\n", "        backend:\n          label: api\n          use_when_unhealthy: true\n", 1))
	ids := h.gw.HealthGroups()[0].IDs
	maint := health.AdminMaint
	if _, err := e.SetAdmin(ids[1], health.AdminChange{State: &maint}); err != nil {
		t.Fatal(err)
	}
	h.sendN(t, "GET", "/r1", "/r2") // a fails and is ejected; it is still the only one not in maint
	wantTranscript(t, tr, "a GET /r1", "a GET /r2")
	if r := reasons(e)["api@"+strings.TrimPrefix(a, "http://")]; r != "passive" {
		t.Errorf("a: %q", r)
	}
}

// The registry's effective weight drives the weighted policy: an
// operator's weight through the admin API changes the shares at once.
func TestOriginsWeightFromAdminAPI(t *testing.T) {
	tr := &transcript{}
	a, b := tr.origin(t, "a", nil), tr.origin(t, "b", nil)
	h, e := passiveHarness(t, originsYAML("      load_balancing: weighted\n      beta_health:\n        interval: 1h\n", a, b))
	ids := h.gw.HealthGroups()[0].IDs
	w := 3
	if _, err := e.SetAdmin(ids[1], health.AdminChange{Weight: &w}); err != nil {
		t.Fatal(err)
	}
	h.sendN(t, "GET", paths(8)...)
	if got := tr.count(); got["a"] != 2 || got["b"] != 6 {
		t.Errorf("counts %v, want a 2 b 6 (weights 1:3)", got)
	}
}

// passive_health without beta_health (Caddy's passive-only setup): the
// origins are registry targets that nothing probes, ejected all the same.
func TestOriginsPassiveWithoutActiveChecks(t *testing.T) {
	tr := &transcript{}
	bad, good := tr.origin(t, "bad", status500), tr.origin(t, "good", nil)
	h, e := passiveHarness(t, originsYAML("      passive_health:\n        consecutive_5xx: 2\n", bad, good))
	g := h.gw.HealthGroups()
	if len(g) != 1 || !g[0].PassiveOnly || len(g[0].Targets) != 2 || g[0].Passive == nil {
		t.Fatalf("groups %+v", g)
	}
	h.sendN(t, "GET", paths(5)...)
	wantTranscript(t, tr, "bad GET /r1", "good GET /r2", "bad GET /r3", "good GET /r4", "good GET /r5")
	if r := reasons(e)["api@"+strings.TrimPrefix(bad, "http://")]; r != "passive" {
		t.Errorf("bad: %q", r)
	}
}
