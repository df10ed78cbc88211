package gateway

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
)

// transcript records which origin got which request, in arrival order.
type transcript struct {
	mu    sync.Mutex
	lines []string
}

func (tr *transcript) add(s string) {
	tr.mu.Lock()
	tr.lines = append(tr.lines, s)
	tr.mu.Unlock()
}

func (tr *transcript) get() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.lines)
}

func (tr *transcript) count() map[string]int {
	out := map[string]int{}
	for _, l := range tr.get() {
		out[strings.Fields(l)[0]]++
	}
	return out
}

// origin starts a named test origin that logs "<name> <method> <path>
// <body>" and then runs then (nil: 200 with the echo).
func (tr *transcript) origin(t *testing.T, name string, then http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		line := name + " " + r.Method + " " + r.URL.Path
		if len(body) > 0 {
			line += " " + string(body)
		}
		tr.add(line)
		if then != nil {
			then(w, r)
			return
		}
		echoHandler(w, r)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

func status500(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }

// refusedOrigin is an address nothing listens on.
func refusedOrigin(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func originsYAML(backend string, origins ...string) string {
	var b strings.Builder
	b.WriteString("definitions:\n  backends:\n    api:\n      origins:\n")
	for _, o := range origins {
		if strings.HasPrefix(o, "{") {
			fmt.Fprintf(&b, "        - %s\n", o)
		} else {
			fmt.Fprintf(&b, "        - %s\n", o)
		}
	}
	b.WriteString(backend)
	b.WriteString("gateway:\n  address: 127.0.0.1:18999\n  endpoints:\n    - path: /**\n      proxy:\n        backend: api\n")
	return b.String()
}

func (h *harness) sendN(t *testing.T, method string, paths ...string) []int {
	t.Helper()
	var codes []int
	for _, p := range paths {
		resp, _ := h.do(method, p, nil, nil)
		codes = append(codes, resp.StatusCode)
	}
	return codes
}

func paths(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("/r%d", i+1)
	}
	return out
}

func wantTranscript(t *testing.T, tr *transcript, want ...string) {
	t.Helper()
	if got := tr.get(); !slices.Equal(got, want) {
		t.Errorf("transcript\n got: %q\nwant: %q", got, want)
	}
}

func TestOriginsRoundRobin(t *testing.T) {
	tr := &transcript{}
	a, b, c := tr.origin(t, "a", nil), tr.origin(t, "b", nil), tr.origin(t, "c", nil)
	h := newHarness(t, originsYAML("", a, b, c))
	h.sendN(t, "GET", paths(7)...)
	wantTranscript(t, tr, "a GET /r1", "b GET /r2", "c GET /r3", "a GET /r4", "b GET /r5", "c GET /r6", "a GET /r7")
}

func TestOriginsSmoothWeightedOrder(t *testing.T) {
	tr := &transcript{}
	a, b, c := tr.origin(t, "a", nil), tr.origin(t, "b", nil), tr.origin(t, "c", nil)
	z := tr.origin(t, "zero", nil)
	h := newHarness(t, originsYAML("      load_balancing: weighted\n",
		"{origin: \""+a+"\", weight: 5}", b, "{origin: \""+c+"\", weight: 1}", "{origin: \""+z+"\", weight: 0}"))
	h.sendN(t, "GET", paths(7)...)
	wantTranscript(t, tr, "a GET /r1", "a GET /r2", "b GET /r3", "a GET /r4", "c GET /r5", "a GET /r6", "a GET /r7")
}

// Weighted shares are exact over whole cycles however requests interleave
// (run with -race: the picks and counters are shared).
func TestOriginsWeightedConcurrentCounts(t *testing.T) {
	tr := &transcript{}
	a, b := tr.origin(t, "a", nil), tr.origin(t, "b", nil)
	h := newHarness(t, originsYAML("      load_balancing: weighted\n", "{origin: \""+a+"\", weight: 3}", b))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				resp, body := h.do("GET", "/w", nil, nil)
				if resp.StatusCode != 200 {
					t.Errorf("status %d: %s", resp.StatusCode, body)
				}
			}
		})
	}
	wg.Wait()
	if got := tr.count(); got["a"] != 60 || got["b"] != 20 {
		t.Errorf("counts %v, want a 60 b 20", got)
	}
	for _, o := range h.gw.backends["api"].origins.origins {
		if n := o.inFlight.Load(); n != 0 {
			t.Errorf("%s in flight %d after all requests ended", o.name, n)
		}
	}
}

func TestOriginsLeastConnections(t *testing.T) {
	tr := &transcript{}
	// arrived holds one signal: the first request's, sent whether or not
	// the test is already waiting for it (an unbuffered send with a default
	// lost it when the request was faster than the test, and the test hung).
	release, arrived := make(chan struct{}), make(chan struct{}, 1)
	slow := tr.origin(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default: // a second request here is the failure the transcript shows
		}
		<-release
		echoHandler(w, r)
	})
	fast := tr.origin(t, "fast", nil)
	h := newHarness(t, originsYAML("      load_balancing: least_connections\n", slow, fast))
	done := make(chan int)
	go func() {
		resp, _ := h.do("GET", "/first", nil, nil)
		done <- resp.StatusCode
	}()
	<-arrived // the first request holds slow
	h.sendN(t, "GET", "/r2", "/r3", "/r4")
	close(release)
	if code := <-done; code != 200 {
		t.Errorf("first request: %d", code)
	}
	h.sendN(t, "GET", "/r5", "/r6") // both idle again: ties go round robin
	wantTranscript(t, tr, "slow GET /first", "fast GET /r2", "fast GET /r3", "fast GET /r4", "slow GET /r5", "fast GET /r6")
}

func TestOriginsRetryAfterConnectFailure(t *testing.T) {
	tr := &transcript{}
	refused, ok := refusedOrigin(t), tr.origin(t, "ok", nil)
	h := newHarness(t, originsYAML("", refused, ok))
	if codes := h.sendN(t, "GET", "/r1", "/r2"); !slices.Equal(codes, []int{200, 200}) {
		t.Fatalf("codes %v", codes)
	}
	// A POST went nowhere either: its body is still unread, so it is
	// offered whole to the next origin.
	resp, body := h.do("POST", "/post", strings.NewReader("payload"), map[string]string{"X-Forwarded-For": "10.9.8.7"})
	if resp.StatusCode != 200 || decodeEcho(t, body).Body != "payload" {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	// The retry starts from the client's header: the client once.
	if got := decodeEcho(t, body).Header["X-Forwarded-For"]; !slices.Equal(got, []string{"10.9.8.7, 127.0.0.1"}) {
		t.Errorf("X-Forwarded-For after a retry: %q", got)
	}
	wantTranscript(t, tr, "ok GET /r1", "ok GET /r2", "ok POST /post payload")
	// The retry takes its turn too, so each request met the refusing
	// origin first (passive health is what takes it out of rotation).
	if got := metricSum(t, h, "backline_gateway_origin_retries_total", "", ""); got != 3 {
		t.Errorf("retries = %v, want 3", got)
	}
}

func TestOriginsRetriesBounded(t *testing.T) {
	h := newHarness(t, originsYAML("      retries: 2\n", refusedOrigin(t), refusedOrigin(t), refusedOrigin(t), refusedOrigin(t)))
	resp, body := h.do("GET", "/x", nil, nil)
	expectError(t, resp, body, 502, "backend")
	if got := metricSum(t, h, "backline_gateway_origin_requests_total", "", ""); got != 3 {
		t.Errorf("attempts = %v, want 3 (one try and retries: 2)", got)
	}
	h0 := newHarness(t, originsYAML("      retries: 0\n", refusedOrigin(t), refusedOrigin(t)))
	resp, body = h0.do("GET", "/x", nil, nil)
	expectError(t, resp, body, 502, "backend")
	if got := metricSum(t, h0, "backline_gateway_origin_requests_total", "", ""); got != 1 {
		t.Errorf("attempts = %v with retries 0", got)
	}
}

// An origin that took the request and then broke the connection may have
// acted on it: nothing is repeated, whatever the method.
func TestOriginsNoRetryAfterRequestSent(t *testing.T) {
	tr := &transcript{}
	hangup := tr.origin(t, "hangup", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	ok := tr.origin(t, "ok", nil)
	h := newHarness(t, originsYAML("      retries: 3\n", hangup, ok))
	resp, body := h.do("POST", "/p1", strings.NewReader("once"), nil)
	expectError(t, resp, body, 502, "backend")
	h.do("GET", "/g2", nil, nil) // ok's turn
	resp, body = h.do("GET", "/g3", nil, nil)
	expectError(t, resp, body, 502, "backend")
	wantTranscript(t, tr, "hangup POST /p1 once", "ok GET /g2", "hangup GET /g3")
}

func TestOriginsAdminPerOrigin(t *testing.T) {
	tr := &transcript{}
	a, b := tr.origin(t, "a", nil), tr.origin(t, "b", nil)
	h, e := passiveHarness(t, originsYAML("      beta_health:\n        interval: 1h\n", a, b))
	groups := h.gw.HealthGroups()
	ids := groups[0].IDs
	if want := []string{"gateway:api@" + a, "gateway:api@" + b}; !slices.Equal(ids, want) {
		t.Fatalf("IDs %v, want %v", ids, want)
	}
	drain := health.AdminDrain
	if _, err := e.SetAdmin(ids[0], health.AdminChange{State: &drain}); err != nil {
		t.Fatal(err)
	}
	h.sendN(t, "GET", paths(3)...)
	if _, err := e.SetAdmin(ids[1], health.AdminChange{State: &drain}); err != nil {
		t.Fatal(err)
	}
	resp, body := h.do("GET", "/none", nil, nil)
	expectError(t, resp, body, 502, "backend_unhealthy")
	wantTranscript(t, tr, "b GET /r1", "b GET /r2", "b GET /r3")
}

func TestOriginsHealthGroup(t *testing.T) {
	a, b := newEcho(t).URL, newEcho(t).URL
	h := newHarness(t, originsYAML(`      beta_health:
        path: /health
      passive_health: {}
`, "{origin: \""+a+"\", weight: 4}", b))
	groups := h.gw.HealthGroups()
	if len(groups) != 1 {
		t.Fatalf("groups %+v", groups)
	}
	g := groups[0]
	hostA, hostB := strings.TrimPrefix(a, "http://"), strings.TrimPrefix(b, "http://")
	if g.Name != "gateway:api" || len(g.Targets) != 2 || g.Targets[0].Name != "api@"+hostA || g.Targets[1].Name != "api@"+hostB ||
		g.Targets[0].RequestURI != "/health" || !slices.Equal(g.Weights, []int{4, 1}) {
		t.Errorf("group %+v targets %+v %+v", g, g.Targets[0], g.Targets[1])
	}
	want := health.PassivePolicy{Consecutive: 5, Interval: 10 * time.Second, BaseEjection: 30 * time.Second,
		MaxEjection: 300 * time.Second, MaxEjectionPercent: 50}
	if g.Passive == nil || *g.Passive != want {
		t.Errorf("passive %+v, want %+v", g.Passive, want)
	}
}

func TestSingleOriginBackendUnchanged(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "", "    - path: /x\n      proxy:\n        backend: api\n"))
	if h.gw.backends["api"].origins != nil {
		t.Fatal("a backend with origin got an origin set")
	}
	h.echo("/x", nil)
}

// An inline backend may list origins too (no health: balancing and
// retries only).
func TestOriginsInlineBackend(t *testing.T) {
	tr := &transcript{}
	a, b := tr.origin(t, "a", nil), tr.origin(t, "b", nil)
	h := newHarness(t, fmt.Sprintf(`gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /**
      proxy:
        backend:
          origins: [%s, %s, %s]
`, refusedOrigin(t), a, b))
	h.sendN(t, "GET", paths(3)...)
	// One counter turns for every pick: r1 refused (turn 0), then turn 1
	// of [a b]: b; r2 turn 2 of [refused a b]: b; r3 turn 3: refused,
	// then turn 4 of [a b]: a.
	wantTranscript(t, tr, "b GET /r1", "b GET /r2", "a GET /r3")
}

// Weight 0 takes an origin out under every policy, with or without health.
func TestOriginsWeightZeroOut(t *testing.T) {
	for _, policy := range []string{"round_robin", "least_connections", "weighted", "random", "p2c"} {
		tr := &transcript{}
		a, z := tr.origin(t, "a", nil), tr.origin(t, "zero", nil)
		h := newHarness(t, originsYAML("      load_balancing: "+policy+"\n", a, "{origin: \""+z+"\", weight: 0}"))
		h.sendN(t, "GET", paths(3)...)
		if got := tr.count(); got["zero"] != 0 || got["a"] != 3 {
			t.Errorf("%s: %v", policy, got)
		}
	}
}

// Credentials in an origin URL never reach IDs, names, metrics or logs.
func TestOriginsUserinfoStaysOut(t *testing.T) {
	tr := &transcript{}
	a := tr.origin(t, "a", status500)
	withCreds := strings.Replace(a, "http://", "http://user:s3cret-pw@", 1)
	h := newHarness(t, originsYAML("      beta_health: {}\n      passive_health: {consecutive_5xx: 1, max_ejection_percent: 100}\n", withCreds, refusedOrigin(t)))
	e, err := health.New(h.gw.HealthGroups(), passChecker{}, health.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.gw.SetHealth(e)
	h.sendN(t, "GET", paths(3)...)
	for _, g := range h.gw.HealthGroups() {
		if strings.Contains(fmt.Sprint(g.IDs, g.Targets[0].Name, g.Targets[1].Name), "s3cret") {
			t.Errorf("credentials in IDs or names: %v", g.IDs)
		}
	}
	mfs, _ := h.reg.Gather()
	if strings.Contains(fmt.Sprint(mfs), "s3cret") || strings.Contains(h.logs.String(), "s3cret") {
		t.Error("credentials in metrics or logs")
	}
}

// A failed TLS handshake sent nothing either: the request goes on to the
// next origin.
func TestOriginsRetryAfterTLSHandshakeFailure(t *testing.T) {
	tr := &transcript{}
	plain := tr.origin(t, "plain", nil) // speaks HTTP to a TLS client
	tlsOrigin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.add("tls " + r.Method + " " + r.URL.Path)
		echoHandler(w, r)
	}))
	t.Cleanup(tlsOrigin.Close)
	h := newHarness(t, originsYAML("      disable_certificate_validation: true\n",
		strings.Replace(plain, "http://", "https://", 1), tlsOrigin.URL))
	resp, body := h.do("PUT", "/put", strings.NewReader("data"), nil)
	if resp.StatusCode != 200 || decodeEcho(t, body).Body != "data" {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	wantTranscript(t, tr, "tls PUT /put")
}

// The access log names the origin that answered (after a retry: the one
// tried last), like nginx's $upstream_addr.
func TestOriginsAccessLogNamesOrigin(t *testing.T) {
	tr := &transcript{}
	ok := tr.origin(t, "ok", nil)
	h := newHarness(t, originsYAML("", refusedOrigin(t), ok))
	h.sendN(t, "GET", "/x")
	lines := accessLines(t, h)
	if len(lines) != 1 || lines[0]["origin"] != "api@"+strings.TrimPrefix(ok, "http://") || lines[0]["backend"] != "api" {
		t.Errorf("access lines %v", lines)
	}
}
