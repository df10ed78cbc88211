package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// holdingOrigins starts two origins that hold requests for /hold/* open
// until release is closed and answer the others at once. arrived gets
// the name of the origin each held request reached.
func holdingOrigins(t *testing.T, tr *transcript) (a, b string, arrived chan string, release chan struct{}) {
	release = make(chan struct{})
	arrived = make(chan string, 16)
	hold := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/hold/") {
				arrived <- name
				<-release
			}
			echoHandler(w, r)
		}
	}
	a, b = tr.origin(t, "a", hold("a")), tr.origin(t, "b", hold("b"))
	return a, b, arrived, release
}

// p2c through the gateway, with requests really in flight: with two
// origins both are drawn every time, so each request goes to the origin
// holding fewer open requests.
func TestP2CPrefersIdleOriginEndToEnd(t *testing.T) {
	tr := &transcript{}
	a, b, arrived, release := holdingOrigins(t, tr)
	h := newHarness(t, originsYAML("      load_balancing: p2c\n", a, b))
	// Registered last, so it runs first: the gateway's shutdown waits for
	// the held requests.
	t.Cleanup(func() { close(release) })
	hold := func(n int) string {
		go h.do("GET", fmt.Sprintf("/hold/%d", n), nil, nil)
		return <-arrived
	}
	other := map[string]string{"a": "b", "b": "a"}
	busy := hold(1) // 1:0
	checkAll := func(want string) {
		t.Helper()
		before := tr.count()
		h.sendN(t, "GET", paths(10)...)
		if got := tr.count()[want] - before[want]; got != 10 {
			t.Fatalf("%s has fewer requests open but got %d of 10: %v", want, got, tr.count())
		}
	}
	checkAll(other[busy])
	if second := hold(2); second != other[busy] { // 1:0 again
		t.Fatalf("the second held request went to %s, which held the first", second)
	}
	busier := hold(3) // 1:1, a tie: either; then 2:1
	checkAll(other[busier])
}

// A connect failure goes on to the other origin under both policies, the
// body offered whole; the origin that failed is never drawn twice for
// one request, so with two origins and retries: 1 every request succeeds.
func TestRandomPoliciesRetryEndToEnd(t *testing.T) {
	for _, policy := range []string{"random", "p2c"} {
		t.Run(policy, func(t *testing.T) {
			tr := &transcript{}
			ok := tr.origin(t, "ok", nil)
			h := newHarness(t, originsYAML("      load_balancing: "+policy+"\n      retries: 1\n", refusedOrigin(t), ok))
			for i := range 30 {
				resp, body := h.do("POST", fmt.Sprintf("/p%d", i), strings.NewReader("payload"), nil)
				if resp.StatusCode != 200 || decodeEcho(t, body).Body != "payload" {
					t.Fatalf("POST %d: %d %s", i, resp.StatusCode, body)
				}
			}
			if got := tr.count()["ok"]; got != 30 {
				t.Errorf("ok got %d of 30", got)
			}
			retries := metricSum(t, h, "backline_gateway_origin_retries_total", "", "")
			attempts := metricSum(t, h, "backline_gateway_origin_requests_total", "", "")
			// Each retry follows an attempt on the refusing origin.
			if retries == 0 || retries == 30 || attempts != 30+retries {
				t.Errorf("retries %v, attempts %v: want the refusing origin drawn first now and then", retries, attempts)
			}
		})
	}
}

// Health decides the candidates for both policies as for the others: a
// backup only when no primary is eligible, 502 backend_unhealthy when
// nothing is, and in panic every origin the checks took out again.
func TestRandomPoliciesHealthEndToEnd(t *testing.T) {
	for _, policy := range []string{"random", "p2c"} {
		t.Run(policy, func(t *testing.T) {
			tr := &transcript{}
			a, b, spare := tr.origin(t, "a", nil), tr.origin(t, "b", nil), tr.origin(t, "spare", nil)
			h := newHarness(t, originsYAML("      load_balancing: "+policy+"\n      beta_health:\n        interval: 1h\n", a, b, backupOrigin(spare)))
			g := h.gw.HealthGroups()[0]
			src := &staticHealth{}
			h.gw.SetHealth(src)
			src.set(g, []bool{true, true, true}, nil)
			h.sendN(t, "GET", paths(40)...)
			if c := tr.count(); c["spare"] != 0 || c["a"] == 0 || c["b"] == 0 {
				t.Errorf("primaries up: %v", c)
			}
			src.set(g, []bool{false, true, true}, nil)
			before := tr.count()
			h.sendN(t, "GET", paths(10)...)
			if c := tr.count(); c["a"] != before["a"] || c["b"]-before["b"] != 10 {
				t.Errorf("a down: %v (before %v)", c, before)
			}
			src.set(g, []bool{false, false, true}, nil)
			h.sendN(t, "GET", paths(5)...)
			if c := tr.count(); c["spare"] != 5 {
				t.Errorf("primaries down: %v", c)
			}
			src.set(g, []bool{false, false, false}, nil)
			resp, body := h.do("GET", "/none", nil, nil)
			expectError(t, resp, body, 502, "backend_unhealthy")

			// panic_threshold: every primary again when all are down.
			tr2 := &transcript{}
			a2, b2 := tr2.origin(t, "a", nil), tr2.origin(t, "b", nil)
			h2 := newHarness(t, originsYAML("      load_balancing: "+policy+"\n      beta_health:\n        interval: 1h\n      panic_threshold: 50\n", a2, b2))
			src2 := &staticHealth{}
			h2.gw.SetHealth(src2)
			src2.set(h2.gw.HealthGroups()[0], []bool{false, false}, nil)
			if codes := h2.sendN(t, "GET", paths(40)...); slices.ContainsFunc(codes, func(c int) bool { return c != 200 }) {
				t.Fatalf("in panic: %v", codes)
			}
			if c := tr2.count(); c["a"] == 0 || c["b"] == 0 {
				t.Errorf("in panic: %v, want both origins", c)
			}
		})
	}
}
