package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// runHealth runs a real health engine (real probes, on 127.0.0.1) for the
// gateway and waits for its first round; with interval 1h no second one
// comes, so each test sees exactly one verdict per target.
func runHealth(t *testing.T, h *harness) *health.Engine {
	t.Helper()
	e := newHealth(t, h)
	startHealth(t, e)
	return e
}

func newHealth(t *testing.T, h *harness) *health.Engine {
	t.Helper()
	e, err := health.New(h.gw.HealthGroups(), &probe.Prober{}, health.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.gw.SetHealth(e)
	return e
}

func startHealth(t *testing.T, e *health.Engine) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the first health round", e.Ready)
}

// healthServer answers GET /health with 200 and records each probe's
// path and Host header.
type healthServer struct {
	*httptest.Server
	mu    sync.Mutex
	seen  []string
	hitsN int
}

func newHealthServer(t *testing.T) *healthServer {
	hs := &healthServer{}
	hs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.mu.Lock()
		hs.seen = append(hs.seen, r.URL.RequestURI()+" Host="+r.Host)
		hs.mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(hs.Close)
	return hs
}

func (hs *healthServer) requests() []string {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return append([]string(nil), hs.seen...)
}

func portOf(rawURL string) string {
	return rawURL[strings.LastIndex(rawURL, ":")+1:]
}

func byID(e *health.Engine) map[string]health.Backend {
	out := map[string]health.Backend{}
	for _, b := range e.Snapshot().Backends {
		out[b.ID] = b
	}
	return out
}

// An origin whose traffic port answers but whose health port does not is
// taken out; one whose health port answers is kept, even while its traffic
// port refuses (the probe says nothing about it: that is what moving the
// check means). The registry ID stays the traffic origin's, the snapshot
// (status API and page) shows the probe's address.
func TestHealthPortMovesTheProbe(t *testing.T) {
	tr := &transcript{}
	traffic := tr.origin(t, "dark", nil)
	hs := newHealthServer(t)
	refused := refusedOrigin(t)
	h := newHarness(t, fmt.Sprintf(`definitions:
  backends:
    dark:
      origin: %s
      beta_health:
        port: %s
        interval: 1h
        failure_threshold: 1
    lit:
      origin: %s
      beta_health:
        path: /health
        port: %s
        interval: 1h
        failure_threshold: 1
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /dark
      proxy:
        backend: dark
    - path: /lit
      proxy:
        backend: lit
`, traffic, portOf(refused), refused, portOf(hs.URL)))
	e := runHealth(t, h)

	dark := byID(e)["gateway:dark@"+traffic]
	lit := byID(e)["gateway:lit@"+refused]
	if dark.Eligible || dark.Reason != health.ReasonUnhealthy || dark.Target.Port == 0 || fmt.Sprint(dark.Target.Port) != portOf(refused) {
		t.Errorf("dark: eligible %v reason %q target %+v (snapshot %+v)", dark.Eligible, dark.Reason, dark.Target, e.Snapshot().Backends)
	}
	if !lit.Eligible || fmt.Sprint(lit.Target.Port) != portOf(hs.URL) || lit.Target.Host != "127.0.0.1" {
		t.Errorf("lit: eligible %v reason %q target %+v", lit.Eligible, lit.Reason, lit.Target)
	}
	if got, want := hs.requests(), []string{"/health Host=127.0.0.1:" + portOf(hs.URL)}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("health server saw %q, want %q", got, want)
	}

	resp, body := h.do(http.MethodGet, "/dark", nil, nil)
	expectError(t, resp, body, 502, "backend_unhealthy")
	wantTranscript(t, tr) // the traffic port was never touched
	resp, body = h.do(http.MethodGet, "/lit", nil, nil)
	if resp.StatusCode != 502 || strings.Contains(body, "backend_unhealthy") {
		t.Errorf("lit: status %d body %q: want the origin tried (and refused), not the gate", resp.StatusCode, body)
	}
}

// With several origins the port applies to each: every origin is probed
// at its own host on the health port and keeps its traffic identity.
func TestHealthPortPerOrigin(t *testing.T) {
	tr := &transcript{}
	a, b := tr.origin(t, "a", nil), tr.origin(t, "b", nil)
	refused := refusedOrigin(t)
	h := newHarness(t, originsYAML("      beta_health:\n        port: "+portOf(refused)+"\n        interval: 1h\n        failure_threshold: 1\n", a, b))
	g := h.gw.HealthGroups()[0]
	for i, o := range []string{a, b} {
		tg := g.Targets[i]
		if g.IDs[i] != "gateway:api@"+o || tg.Name != "api@"+strings.TrimPrefix(o, "http://") ||
			tg.Host != "127.0.0.1" || fmt.Sprint(tg.Port) != portOf(refused) || tg.TLSMode != probe.TLSPlain {
			t.Errorf("origin %d: ID %q target %+v", i, g.IDs[i], tg)
		}
	}
	e := runHealth(t, h)
	for id, be := range byID(e) {
		if be.Eligible {
			t.Errorf("%s eligible; its health port refuses", id)
		}
	}
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	expectError(t, resp, body, 502, "backend_unhealthy")
	wantTranscript(t, tr)
}

// scheme: https probes over TLS next to plain-HTTP traffic, with the
// backend's tls block (private CA, client certificate); SNI and Host name
// the origin's host.
func TestHealthSchemeHTTPSUsesBackendTLS(t *testing.T) {
	p := newTestPKI(t)
	secure := p.origin(t, false, true) // answers "<proto> <client CN> <host>"
	traffic := newEcho(t)
	h := newHarness(t, gatewayYAML(traffic.URL, fmt.Sprintf(`      tls:
        server_ca_certificate_file: %s
        client_certificate_file: %s
        client_private_key_file: %s
      beta_health:
        scheme: https
        port: %s
        interval: 1h
        failure_threshold: 1
        expected_text: "HTTP/1.1 gateway-client 127.0.0.1:%s"
`, p.caFile, p.clientCert, p.clientKey, portOf(secure.URL), portOf(secure.URL)), "    - path: /x\n      proxy:\n        backend: api\n"))
	tg := h.gw.HealthGroups()[0].Targets[0]
	if tg.TLSMode != probe.TLSImplicit || tg.TLSConfig == nil || tg.TLSConfig.ServerName != "127.0.0.1" || len(tg.TLSConfig.Certificates) != 1 {
		t.Fatalf("target %+v", tg)
	}
	e := runHealth(t, h)
	if b := e.Snapshot().Backends[0]; !b.Eligible || b.ID != "gateway:api@"+traffic.URL {
		t.Fatalf("backend %s eligible %v: %s", b.ID, b.Eligible, b.Deep.LastError)
	}
	h.echo("/x", nil)
}

// scheme alone keeps a port written in the origin and lets an implied one
// follow the probe's scheme, as the written-out URL would.
func TestHealthSchemeAndImpliedPort(t *testing.T) {
	for _, tc := range []struct{ origin, health, want, id string }{
		{"https://127.0.0.1:8443", "{scheme: http}", "http://127.0.0.1:8443/", "gateway:api@https://127.0.0.1:8443"},
		{"https://127.0.0.1", "{scheme: http}", "http://127.0.0.1:80/", "gateway:api@https://127.0.0.1:443"},
		{"http://127.0.0.1", "{scheme: https}", "https://127.0.0.1:443/", "gateway:api@http://127.0.0.1:80"},
		{"http://127.0.0.1:8080/base", "{scheme: https, port: 9443}", "https://127.0.0.1:9443/base", "gateway:api@http://127.0.0.1:8080"},
		{"https://[::1]:8443", "{port: 9000, path: /h}", "https://[::1]:9000/h", "gateway:api@https://[::1]:8443"},
	} {
		cfg := parseConfig(t, "definitions:\n  backends:\n    api:\n      origin: "+tc.origin+"\n      beta_health: "+tc.health+"\n")
		gw, err := New(Options{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		g := gw.HealthGroups()[0]
		if got := HealthURL(g.Targets[0]); got != tc.want || g.IDs[0] != tc.id {
			t.Errorf("%s + %s: probe %s ID %s, want %s %s", tc.origin, tc.health, got, g.IDs[0], tc.want, tc.id)
		}
		if lines := gw.MovedHealthChecks(); len(lines) != 1 || lines[0] != "definitions.backends.api.beta_health: "+tc.id+" is probed at "+tc.want {
			t.Errorf("MovedHealthChecks %q", lines)
		}
		gw.Close()
	}
	// Without port or scheme nothing moved, and check prints nothing.
	gw, err := New(Options{Config: parseConfig(t, "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1\n      beta_health: {path: /h}\n")})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if lines := gw.MovedHealthChecks(); len(lines) != 0 {
		t.Errorf("MovedHealthChecks %q", lines)
	}
}

// initial_state: unhealthy keeps traffic away until the first successful
// probe: the engine's first snapshot already says so, before any round.
func TestHealthInitialStateUnhealthy(t *testing.T) {
	for _, several := range []bool{false, true} {
		t.Run(fmt.Sprint("origins=", several), func(t *testing.T) {
			tr := &transcript{}
			o := tr.origin(t, "o", nil)
			block := "      beta_health:\n        interval: 1h\n        initial_state: unhealthy\n"
			yml := gatewayYAML(o, block, "    - path: /**\n      proxy:\n        backend: api\n")
			if several {
				yml = originsYAML(block, o)
			}
			h := newHarness(t, yml)
			if g := h.gw.HealthGroups()[0]; g.InitialHealthy {
				t.Fatalf("group %+v", g)
			}
			e := newHealth(t, h)
			resp, body := h.do(http.MethodGet, "/r0", nil, nil)
			expectError(t, resp, body, 502, "backend_unhealthy")
			wantTranscript(t, tr)
			startHealth(t, e)
			waitFor(t, "the origin to become eligible", func() bool { return e.Snapshot().Backends[0].Eligible })
			h.sendN(t, "GET", paths(1)...)
			wantTranscript(t, tr, "o GET /", "o GET /r1") // the probe, then the request
		})
	}
}

// The default stays Couper's: traffic flows before the first verdict.
func TestHealthInitialStateDefault(t *testing.T) {
	h := newHarness(t, gatewayYAML(newEcho(t).URL, "      beta_health:\n        interval: 1h\n", "    - path: /x\n      proxy:\n        backend: api\n"))
	if g := h.gw.HealthGroups()[0]; !g.InitialHealthy {
		t.Fatalf("group %+v", g)
	}
	newHealth(t, h)
	h.echo("/x", nil)
}
