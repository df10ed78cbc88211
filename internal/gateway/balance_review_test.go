package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// header_hash with hash_key Host: net/http (and backline's own server)
// keep the Host header in r.Host, not in r.Header, so the key was never
// found and every request went round robin (as a fallback). Caddy's
// header policy reads r.Host for it, nginx hashes $http_host.
func TestReviewHeaderHashHost(t *testing.T) {
	tr := &transcript{}
	h := newHarness(t, originsYAML("      load_balancing: header_hash\n      hash_key: Host\n", threeOrigins(t, tr)...))
	for i := range 6 {
		hdr := map[string]string{"Host": fmt.Sprintf("site-%d.example", i)}
		first, _ := originOf(t, h, tr, "/a", hdr)
		for range 3 {
			if again, _ := originOf(t, h, tr, "/b", hdr); again != first {
				t.Fatalf("host site-%d went to %s, then %s", i, first, again)
			}
		}
	}
	if got := metricSum(t, h, "backline_gateway_origin_hash_fallbacks_total", "", ""); got != 0 {
		t.Errorf("fallbacks = %v with a Host on every request, want 0", got)
	}
}

// cookie_hash (hash_cookie_set on) on a cookie the origin sets itself:
// the gateway's Set-Cookie came after the origin's and so replaced the
// application's value in the browser (a session cookie, or an upstream
// Caddy's lb cookie). The origin's own cookie wins; the gateway adds none.
func TestReviewHashCookieKeepsOriginsCookie(t *testing.T) {
	tr := &transcript{}
	setter := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "other=1; Path=/")
		w.Header().Add("Set-Cookie", "SESSION=app-session; Path=/; HttpOnly")
		w.WriteHeader(200)
	}
	origins := []string{tr.origin(t, "a", setter), tr.origin(t, "b", setter)}
	h := newHarness(t, originsYAML("      load_balancing: cookie_hash\n      hash_key: SESSION\n", origins...))
	_, resp := originOf(t, h, tr, "/login", nil)
	var session []string
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "SESSION=") {
			session = append(session, v)
		}
	}
	if len(session) != 1 || !strings.HasPrefix(session[0], "SESSION=app-session;") {
		t.Errorf("SESSION cookies on the answer: %q, want only the origin's", session)
	}
	// An origin that sets another cookie does not stop the gateway's.
	tr2 := &transcript{}
	other := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "lbx=1; Path=/")
		w.WriteHeader(200)
	}
	h2 := newHarness(t, originsYAML("      load_balancing: cookie_hash\n", tr2.origin(t, "a", other), tr2.origin(t, "b", other)))
	_, resp = originOf(t, h2, tr2, "/", nil)
	if v := resp.Header.Values("Set-Cookie"); len(v) != 2 || !strings.HasPrefix(v[1], "lb=") {
		t.Errorf("Set-Cookie %q, want the origin's lbx and the gateway's lb", v)
	}
}

// A wall clock step back during a ramp: the ramp is meant to start over
// at the low end (rampShare's comment), but the start stayed in the
// future, so the origin was held at the minimum share until the clock
// caught up with it again (an hour for an hour's step), whatever
// slow_start says.
func TestReviewRampClockStepBack(t *testing.T) {
	var r originRamp
	r.state.Store(rampDown)
	d := 30 * time.Second
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if got := r.observe(true, t0, d); got != minShare {
		t.Fatalf("first share %d", got)
	}
	back := t0.Add(-time.Hour)
	if got := r.observe(true, back, d); got != minShare {
		t.Errorf("after the step back: %d, want %d", got, minShare)
	}
	if got := r.observe(true, back.Add(d/2), d); got != fullShare/2 {
		t.Errorf("half a ramp after the step back: %d, want %d", got, fullShare/2)
	}
	if got := r.observe(true, back.Add(d), d); got != fullShare {
		t.Errorf("a ramp after the step back: %d, want %d", got, fullShare)
	}
}

// An origin a reload adds while slow_start is off (or the policy hashes)
// was left marked "down, not yet seen" for good, as nothing observes it;
// a later reload that turns slow_start on then ramped it from a tenth
// although it had been serving all along. A reload starts no ramp for
// an origin it keeps (docs/gateway.md#slow-start).
func TestReviewRampNotLeftPendingWithoutSlowStart(t *testing.T) {
	m, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func(extra string, origins ...string) *Gateway {
		t.Helper()
		g, err := New(Options{Config: parseConfig(t, originsYAML("      load_balancing: weighted\n"+extra, origins...)), Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		g.Activate()
		t.Cleanup(g.Close)
		return g
	}
	build("", "http://127.0.0.1:4001")
	build("", "http://127.0.0.1:4001", "http://127.0.0.1:4002") // added, slow_start off
	g3 := build("      slow_start: 1m\n", "http://127.0.0.1:4001", "http://127.0.0.1:4002")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cands := g3.backends["api"].origins.candidates(nil, now, nil, false, nil)
	if len(cands) != 2 || cands[0].share != fullShare || cands[1].share != fullShare {
		t.Errorf("after turning slow_start on, kept origins ramp: %+v", cands)
	}
}

// A trusted proxy's X-Forwarded-Proto is a URI scheme, case-insensitive
// (RFC 3986 3.1): "HTTPS" made the gateway's cookie lose Secure.
func TestReviewHashCookieSecureSchemeCase(t *testing.T) {
	tr := &transcript{}
	yml := originsYAML("      load_balancing: cookie_hash\n", threeOrigins(t, tr)...)
	h := newHarness(t, strings.Replace(yml, "gateway:\n", "gateway:\n  trusted_proxies: [127.0.0.1]\n", 1))
	if _, resp := originOf(t, h, tr, "/s", map[string]string{"X-Forwarded-Proto": "HTTPS"}); !strings.HasSuffix(resp.Header.Get("Set-Cookie"), "; Secure") {
		t.Errorf("behind a trusted proxy saying HTTPS: %q", resp.Header.Get("Set-Cookie"))
	}
}

// Two reloads close together: gen0's last request ends (ForgetUnused)
// after a reload built gen2, which adds an origin, and before gen2 is
// active. Forgetting every ramp the active gen1 lacks dropped gen2's new
// origin, so the next reload, which keeps it, made it ramp again from a
// tenth after an hour of full service.
func TestReviewForgetKeepsPendingReloadsRamps(t *testing.T) {
	m, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func(activate bool, origins ...string) *Gateway {
		t.Helper()
		g, err := New(Options{Config: parseConfig(t, originsYAML("      load_balancing: weighted\n      slow_start: 1m\n", origins...)), Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		if activate {
			g.Activate()
		}
		t.Cleanup(g.Close)
		return g
	}
	g0 := build(true, "http://127.0.0.1:4001")
	build(true, "http://127.0.0.1:4001")
	g2 := build(false, "http://127.0.0.1:4001", "http://127.0.0.1:4002")
	m.ForgetUnused(g0)
	g2.Activate()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g2.backends["api"].origins.candidates(nil, now, nil, false, nil) // 4002's ramp starts
	g2.backends["api"].origins.candidates(nil, now.Add(time.Hour), nil, false, nil)
	g3 := build(true, "http://127.0.0.1:4001", "http://127.0.0.1:4002")
	cands := g3.backends["api"].origins.candidates(nil, now.Add(time.Hour+time.Second), nil, false, nil)
	if len(cands) != 2 || cands[1].share != fullShare {
		t.Errorf("a kept origin ramps again after the reload: %+v", cands)
	}
}
