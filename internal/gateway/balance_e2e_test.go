package gateway

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
)

// originOf sends one GET and returns the name of the origin that got it
// (the transcript's last line) and the answer.
func originOf(t *testing.T, h *harness, tr *transcript, path string, hdr map[string]string) (string, *http.Response) {
	t.Helper()
	resp, body := h.do("GET", path, nil, hdr)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	lines := tr.get()
	return strings.Fields(lines[len(lines)-1])[0], resp
}

func threeOrigins(t *testing.T, tr *transcript) []string {
	return []string{tr.origin(t, "a", nil), tr.origin(t, "b", nil), tr.origin(t, "c", nil)}
}

// header_hash: each tenant sticks to one origin, tenants spread, and
// requests without the header go round robin (counted as fallbacks).
func TestHashHeaderEndToEnd(t *testing.T) {
	tr := &transcript{}
	h := newHarness(t, originsYAML("      load_balancing: header_hash\n      hash_key: X-Tenant\n", threeOrigins(t, tr)...))
	used := map[string]bool{}
	for i := range 30 {
		hdr := map[string]string{"X-Tenant": fmt.Sprintf("tenant-%d", i)}
		first, _ := originOf(t, h, tr, "/x", hdr)
		used[first] = true
		for range 3 {
			if again, _ := originOf(t, h, tr, "/y", hdr); again != first {
				t.Fatalf("tenant-%d went to %s, then %s", i, first, again)
			}
		}
	}
	if len(used) != 3 {
		t.Errorf("30 tenants used origins %v", used)
	}
	before := tr.count()
	h.sendN(t, "GET", paths(6)...)
	after := tr.count()
	for _, name := range []string{"a", "b", "c"} {
		if after[name]-before[name] != 2 {
			t.Errorf("without the header %s got %d of 6, want 2 (round robin)", name, after[name]-before[name])
		}
	}
	if got := metricSum(t, h, "backline_gateway_origin_hash_fallbacks_total", "", ""); got != 6 {
		t.Errorf("fallbacks = %v, want 6", got)
	}
}

// cookie_hash: a client without the cookie gets one, and with it comes
// back to the origin of its first request.
func TestHashCookieEndToEnd(t *testing.T) {
	tr := &transcript{}
	h := newHarness(t, originsYAML("      load_balancing: cookie_hash\n", threeOrigins(t, tr)...))
	seen := map[string]bool{}
	for i := range 12 {
		first, resp := originOf(t, h, tr, fmt.Sprintf("/first%d", i), nil)
		set := resp.Header.Values("Set-Cookie")
		if len(set) != 1 || !strings.HasPrefix(set[0], "lb=") || !strings.HasSuffix(set[0], "; Path=/; HttpOnly; SameSite=Lax") {
			t.Fatalf("Set-Cookie %q", set)
		}
		for _, o := range threeOrigins(t, &transcript{}) {
			if strings.Contains(set[0], strings.TrimPrefix(o, "http://")) {
				t.Fatal("the cookie names an origin")
			}
		}
		token := strings.TrimPrefix(strings.SplitN(set[0], ";", 2)[0], "lb=")
		seen[first] = true
		for range 3 {
			again, resp := originOf(t, h, tr, "/again", map[string]string{"Cookie": "other=1; lb=" + token})
			if again != first {
				t.Fatalf("with its cookie the client went to %s, first to %s", again, first)
			}
			if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
				t.Fatalf("a client with the cookie got another: %q", v)
			}
		}
	}
	if len(seen) < 2 {
		t.Errorf("12 new clients all went to %v", seen)
	}
	if got := metricSum(t, h, "backline_gateway_origin_hash_fallbacks_total", "", ""); got != 0 {
		t.Errorf("fallbacks = %v with cookies set by the gateway", got)
	}
}

// hash_cookie_set: false leaves the cookie to the application: a client
// without it is balanced round robin and gets no cookie.
func TestHashCookieNotSet(t *testing.T) {
	tr := &transcript{}
	h := newHarness(t, originsYAML("      load_balancing: cookie_hash\n      hash_key: SESSION\n      hash_cookie_set: false\n", threeOrigins(t, tr)...))
	for i := range 3 {
		if _, resp := originOf(t, h, tr, fmt.Sprintf("/n%d", i), nil); len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("Set-Cookie %q", resp.Header.Values("Set-Cookie"))
		}
	}
	if c := tr.count(); c["a"] != 1 || c["b"] != 1 || c["c"] != 1 {
		t.Errorf("without the cookie: %v, want round robin", c)
	}
	first, _ := originOf(t, h, tr, "/s", map[string]string{"Cookie": "SESSION=abc"})
	for range 3 {
		if again, _ := originOf(t, h, tr, "/s", map[string]string{"Cookie": "SESSION=abc"}); again != first {
			t.Fatalf("SESSION=abc went to %s, then %s", first, again)
		}
	}
}

// client_ip_hash: behind a trusted proxy the X-Forwarded-For client
// decides; from anyone else the header is ignored.
func TestHashClientIPEndToEnd(t *testing.T) {
	tr := &transcript{}
	origins := threeOrigins(t, tr)
	yml := originsYAML("      load_balancing: client_ip_hash\n", origins...)
	trusted := newHarness(t, strings.Replace(yml, "gateway:\n", "gateway:\n  trusted_proxies: [127.0.0.1]\n", 1))
	used := map[string]bool{}
	for i := range 20 {
		hdr := map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1)}
		first, _ := originOf(t, trusted, tr, "/t", hdr)
		used[first] = true
		// The client's own claim on the left changes nothing.
		spoofed := map[string]string{"X-Forwarded-For": "203.0.113.9, " + hdr["X-Forwarded-For"]}
		if again, _ := originOf(t, trusted, tr, "/t", spoofed); again != first {
			t.Fatalf("198.51.100.%d went to %s, with a spoofed entry to %s", i+1, first, again)
		}
	}
	if len(used) < 2 {
		t.Errorf("20 clients behind a trusted proxy used %v", used)
	}
	plain := newHarness(t, yml)
	first, _ := originOf(t, plain, tr, "/p", nil)
	for i := range 10 {
		hdr := map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1)}
		if again, _ := originOf(t, plain, tr, "/p", hdr); again != first {
			t.Fatalf("an untrusted peer's X-Forwarded-For moved it from %s to %s", first, again)
		}
	}
}

// Draining one origin moves only its users; making it ready again brings
// every user back to the origin it had (peers matrix demand 20).
func TestHashStableAcrossDrainAndRecovery(t *testing.T) {
	tr := &transcript{}
	h, e := passiveHarness(t, originsYAML("      beta_health:\n        interval: 1h\n      load_balancing: header_hash\n      hash_key: X-User\n", threeOrigins(t, tr)...))
	ids := h.gw.HealthGroups()[0].IDs
	mapAll := func() []string {
		var out []string
		for i := range 30 {
			o, _ := originOf(t, h, tr, "/m", map[string]string{"X-User": fmt.Sprintf("user%d", i)})
			out = append(out, o)
		}
		return out
	}
	before := mapAll()
	drain, ready := health.AdminDrain, health.AdminReady
	if _, err := e.SetAdmin(ids[1], health.AdminChange{State: &drain}); err != nil {
		t.Fatal(err)
	}
	during := mapAll()
	for i := range before {
		if during[i] == "b" || before[i] != "b" && during[i] != before[i] {
			t.Fatalf("user%d: %s before, %s with b drained", i, before[i], during[i])
		}
	}
	if _, err := e.SetAdmin(ids[1], health.AdminChange{State: &ready}); err != nil {
		t.Fatal(err)
	}
	if after := mapAll(); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("after b is ready again:\n%v\nbefore:\n%v", after, before)
	}
}

// Hostile keys: a header far larger than any real one, control bytes in
// a cookie, a duplicated header; each is answered (sticky or round robin),
// none breaks the gateway.
func TestHashHostileKeys(t *testing.T) {
	tr := &transcript{}
	h := newHarness(t, originsYAML("      load_balancing: header_hash\n      hash_key: X-Tenant\n", threeOrigins(t, tr)...))
	big := map[string]string{"X-Tenant": strings.Repeat("t", 32<<10)}
	first, _ := originOf(t, h, tr, "/big", big)
	if again, _ := originOf(t, h, tr, "/big", big); again != first {
		t.Errorf("a 32 KiB key went to %s, then %s", first, again)
	}
	raw := func(h *harness, head string) string {
		c := h.dialRaw(t)
		defer c.Close()
		if _, err := c.Write([]byte(head)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer to %q: %v", head, err)
		}
		resp.Body.Close()
		return resp.Status
	}
	// The same tenant twice, then another first: the first line counts.
	tr2 := &transcript{}
	h2 := newHarness(t, originsYAML("      load_balancing: header_hash\n      hash_key: x-tenant\n", threeOrigins(t, tr2)...))
	one, _ := originOf(t, h2, tr2, "/d", map[string]string{"X-Tenant": "alpha"})
	for _, head := range []string{
		"GET /d HTTP/1.1\r\nHost: x\r\nX-Tenant: alpha\r\nX-Tenant: omega\r\nConnection: close\r\n\r\n",
		"GET /d HTTP/1.1\r\nHost: x\r\nx-tenant: alpha\r\nConnection: close\r\n\r\n",
		"GET /d HTTP/1.1\r\nHost: x\r\nX-TENANT:   alpha  \r\nConnection: close\r\n\r\n",
	} {
		if st := raw(h2, head); !strings.HasPrefix(st, "200") {
			t.Fatalf("duplicated header: %s", st)
		}
		if lines := tr2.get(); !strings.HasPrefix(lines[len(lines)-1], one+" ") {
			t.Fatalf("%q went to %s, alpha alone to %s", head, lines[len(lines)-1], one)
		}
	}
	// Control bytes: refused by the listener or balanced; never a crash.
	for _, head := range []string{
		"GET /c HTTP/1.1\r\nHost: x\r\nX-Tenant: a\x01b\r\nConnection: close\r\n\r\n",
		"GET /c HTTP/1.1\r\nHost: x\r\nX-Tenant:\r\nConnection: close\r\n\r\n",
	} {
		if st := raw(h, head); !strings.HasPrefix(st, "200") && !strings.HasPrefix(st, "400") {
			t.Errorf("%q: %s", head, st)
		}
	}
	tr3 := &transcript{}
	h3 := newHarness(t, originsYAML("      load_balancing: cookie_hash\n", threeOrigins(t, tr3)...))
	for _, cookie := range []string{"lb=a\x01b", "lb=" + strings.Repeat("x", 8000), "lb=\"\"", "lb=a b"} {
		c := h3.dialRaw(t)
		if _, err := fmt.Fprintf(c, "GET /k HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nConnection: close\r\n\r\n", cookie); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatalf("cookie %.20q: %v", cookie, err)
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == 400:
		case resp.StatusCode == 200:
			// Not a usable value: a new cookie replaces it.
			if v := resp.Header.Values("Set-Cookie"); len(v) != 1 || strings.Contains(v[0], "\x01") {
				t.Errorf("cookie %.20q: Set-Cookie %q", cookie, v)
			}
		default:
			t.Errorf("cookie %.20q: status %d", cookie, resp.StatusCode)
		}
	}
}

// slow_start through the gateway, its clock set by the test: an origin
// made ready again takes a tenth of its round robin share, half of it
// half way through, all of it after.
func TestSlowStartEndToEnd(t *testing.T) {
	tr := &transcript{}
	a, b := tr.origin(t, "a", nil), tr.origin(t, "b", nil)
	h, e := passiveHarness(t, originsYAML("      beta_health:\n        interval: 1h\n      slow_start: 10m\n", a, b))
	set := h.gw.backends["api"].origins
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	set.clock = func() time.Time { return now }
	ids := h.gw.HealthGroups()[0].IDs
	share := func(n int) map[string]int {
		before := tr.count()
		h.sendN(t, "GET", paths(n)...)
		after := tr.count()
		return map[string]int{"a": after["a"] - before["a"], "b": after["b"] - before["b"]}
	}
	if got := share(10); got["a"] != 5 || got["b"] != 5 {
		t.Fatalf("steady from the start (no slow start at startup): %v", got)
	}
	drain, ready := health.AdminDrain, health.AdminReady
	if _, err := e.SetAdmin(ids[1], health.AdminChange{State: &drain}); err != nil {
		t.Fatal(err)
	}
	if got := share(4); got["b"] != 0 {
		t.Fatalf("drained origin got %v", got)
	}
	if _, err := e.SetAdmin(ids[1], health.AdminChange{State: &ready}); err != nil {
		t.Fatal(err)
	}
	if got := share(110); got["a"] != 100 || got["b"] != 10 {
		t.Errorf("just ready again: %v, want a 100 b 10", got)
	}
	now = now.Add(5 * time.Minute)
	if got := share(90); got["a"] != 60 || got["b"] != 30 {
		t.Errorf("half way: %v, want a 60 b 30", got)
	}
	now = now.Add(time.Hour)
	if got := share(10); got["a"] != 5 || got["b"] != 5 {
		t.Errorf("after the ramp: %v", got)
	}
}

// The cookie is Secure when the client came over https: here a trusted
// proxy says so; an untrusted client saying so is not believed.
func TestHashCookieSecureBehindTrustedProxy(t *testing.T) {
	tr := &transcript{}
	yml := originsYAML("      load_balancing: cookie_hash\n", threeOrigins(t, tr)...)
	https := map[string]string{"X-Forwarded-Proto": "https"}
	trusted := newHarness(t, strings.Replace(yml, "gateway:\n", "gateway:\n  trusted_proxies: [127.0.0.1]\n", 1))
	if _, resp := originOf(t, trusted, tr, "/s", https); !strings.HasSuffix(resp.Header.Get("Set-Cookie"), "; Secure") {
		t.Errorf("behind a trusted proxy saying https: %q", resp.Header.Get("Set-Cookie"))
	}
	plain := newHarness(t, yml)
	if _, resp := originOf(t, plain, tr, "/s", https); strings.Contains(resp.Header.Get("Set-Cookie"), "Secure") {
		t.Errorf("an untrusted client's https claim made the cookie Secure: %q", resp.Header.Get("Set-Cookie"))
	}
}
