package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/testfixture"
)

// TestGatewayOriginsNginx balances over the fixture's nginx twice (HTTP and
// HTTPS) and a port nothing listens on, with real probes: the refusing
// origin is found unhealthy by beta_health, requests alternate between the
// two nginx origins, and nginx's own 503s eject one of them by passive
// health, but never more than max_ejection_percent allows.
func TestGatewayOriginsNginx(t *testing.T) {
	f := testfixture.Load(t)
	refused := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
	httpOrigin := fmt.Sprintf("127.0.0.1:%d", f.Port("NGINX_HTTP"))
	httpsOrigin := fmt.Sprintf("localhost:%d", f.Port("NGINX_HTTPS"))
	yml := fmt.Sprintf(`definitions:
  backends:
    multi:
      origins:
        - http://%[1]s
        - https://%[2]s
        - http://%[3]s
      basic_auth: %[4]s:%[5]s
      tls:
        server_ca_certificate_file: %[6]s
      beta_health:
        path: /public
        interval: 1h
        failure_threshold: 1
      passive_health:
        consecutive_5xx: 2
        base_ejection_time: 1h
        max_ejection_percent: 34
gateway:
  address: 127.0.0.1:18997
  endpoints:
    - path: /**
      proxy:
        backend: multi
`, httpOrigin, httpsOrigin, refused, f.User, f.Password, f.CAFile)
	reg := prometheus.NewRegistry()
	gw, engine, _ := startCheckedGateway(t, yml, reg)
	reason := func(name string) health.Reason {
		for _, b := range engine.Snapshot().Backends {
			if b.Target.Name == name {
				return b.Reason
			}
		}
		return "missing"
	}
	// One round, when the engine starts (interval 1h): beta_health's
	// timeout is clamped to the interval, and with 100ms one slow probe
	// on a loaded machine took an nginx origin out (failure_threshold 1).
	waitForVerdicts(t, engine, 3)
	if r := reason("multi@" + refused); r != health.ReasonUnhealthy {
		t.Fatalf("refusing origin: %s, want unhealthy: %+v", r, engine.Snapshot())
	}

	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func(path string) (int, string) {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for range 4 {
		if code, body := get("/public"); code != 200 || body != "ok\n" {
			t.Fatalf("/public: %d %q", code, body)
		}
	}
	perOrigin := func() map[string]float64 {
		out := map[string]float64{}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "backline_gateway_origin_requests_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "origin" {
						out[l.GetValue()] = m.GetCounter().GetValue()
					}
				}
			}
		}
		return out
	}
	want := map[string]float64{"multi@" + httpOrigin: 2, "multi@" + httpsOrigin: 2}
	if got := perOrigin(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests per origin %v, want %v", got, want)
	}

	// nginx answers /fail with 503 on both origins: two in a row on each
	// would eject both, but 34 % of 3 origins is one.
	for range 8 {
		if code, _ := get("/fail"); code != 503 {
			t.Fatalf("/fail: %d", code)
		}
	}
	passive := 0
	for _, name := range []string{"multi@" + httpOrigin, "multi@" + httpsOrigin} {
		if reason(name) == health.ReasonPassive {
			passive++
		}
	}
	if passive != 1 {
		t.Errorf("%d nginx origins ejected, want 1: %+v", passive, engine.Snapshot().Backends)
	}
	if code, body := get("/public"); code != 200 || body != "ok\n" {
		t.Errorf("after the ejection: %d %q", code, body)
	}
}
