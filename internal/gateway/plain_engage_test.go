package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Whether the plain lane (plain.go) engages: per endpoint at load
// (plainProxy, read here from the compiled endpoint), and per request,
// seen from outside: in the lane the upstream request's fields follow the
// client's order, on the header-map path they are sorted.

// plEndpointsPlain is each route's plain decision, by endpoint path.
func plEndpointsPlain(t *testing.T, yml string) map[string]bool {
	t.Helper()
	_, gw := plHarness(t, yml, false)
	out := map[string]bool{}
	for _, r := range gw.router.routes {
		out[r.endpoint.path] = r.endpoint.plain
	}
	return out
}

// plLaneEngaged sends raw (which must carry "Zz-Order: 1" before
// "Aa-Order: 1") and reports whether the origin got them in that order.
func plLaneEngaged(t *testing.T, addr string, o *plOrigin, raw string, methods ...string) bool {
	t.Helper()
	before := len(o.requests())
	if len(methods) == 0 {
		methods = []string{"GET"}
	}
	plExchange(t, addr, raw, methods...)
	seen := o.requests()
	if len(seen) <= before {
		t.Fatalf("the origin saw no request for %q", raw)
	}
	zz, aa := -1, -1
	for i, f := range seen[before].fields {
		switch textproto.CanonicalMIMEHeaderKey(f.name) {
		case "Zz-Order":
			zz = i
		case "Aa-Order":
			aa = i
		}
	}
	if zz < 0 || aa < 0 {
		t.Fatalf("the order fields did not arrive: %v", seen[before].fields)
	}
	return zz < aa
}

const plOrderFields = "Zz-Order: 1\r\nAa-Order: 1\r\n"

// TestPlainLaneEndpointDecision: plainProxy says no for every block that
// changes the request or the answer, at every level, and yes otherwise.
func TestPlainLaneEndpointDecision(t *testing.T) {
	token := newPlOrigin(t, func(plSeen, int) string {
		body := `{"access_token":"tok","token_type":"Bearer","expires_in":3600}`
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
	doc := filepath.Join(t.TempDir(), "api.yaml")
	if err := os.WriteFile(doc, []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /p:\n    get:\n      responses:\n        '200': {description: ok}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	origin := "http://127.0.0.1:9" // never dialled: only the load decision is read
	proxy := "    - path: /**\n      proxy:\n        backend: api\n"
	cases := []struct {
		name      string
		backend   string
		gateway   string
		endpoint  string
		wantPlain bool
	}{
		{name: "plain", wantPlain: true},
		{name: "timeouts and limits", backend: "      timeout: 5s\n      ttfb_timeout: 2s\n      max_connections: 4\n      disable_connection_reuse: true\n", wantPlain: true},
		{name: "path and prefix", backend: "      path: /x\n      path_prefix: /y\n", wantPlain: true},
		{name: "hostname", backend: "      hostname: h.test\n", wantPlain: true},
		{name: "trusted proxies and request ids", gateway: "  trusted_proxies: [127.0.0.1]\n  request_id: {backend_header: X-Request-Id, client_header: X-Request-Id}\n", wantPlain: true},
		{name: "websockets allowed", endpoint: "    - path: /**\n      proxy:\n        backend: api\n        websockets: true\n", wantPlain: true},
		{name: "backend basic_auth", backend: "      basic_auth: \"u:p\"\n"},
		{name: "backend basic_auth from the request", backend: "      basic_auth: \"${request.headers.x-user}:p\"\n"},
		{name: "backend oauth2", backend: "      oauth2:\n        grant_type: client_credentials\n        token_endpoint: " + token.url() + "/t\n        client_id: id\n        client_secret: sec\n"},
		{name: "backend openapi", backend: fmt.Sprintf("      openapi: {file: %q}\n", doc)},
		{name: "backend set_response_status", backend: "      set_response_status: 200\n"},
		{name: "backend custom_log_fields", backend: "      custom_log_fields: {a: b}\n"},
		{name: "gateway custom_log_fields", gateway: "  custom_log_fields: {a: b}\n"},
		{name: "endpoint custom_log_fields", endpoint: "    - path: /**\n      custom_log_fields: {a: b}\n      proxy:\n        backend: api\n"},
		{name: "backend set_request_headers", backend: "      set_request_headers: {X-A: b}\n"},
		{name: "backend remove_request_headers", backend: "      remove_request_headers: [X-A]\n"},
		{name: "backend add_response_headers", backend: "      add_response_headers: {X-A: b}\n"},
		{name: "backend remove_response_headers", backend: "      remove_response_headers: [X-A]\n"},
		{name: "backend set_query_params", backend: "      set_query_params: {a: b}\n"},
		{name: "backend remove_form_params", backend: "      remove_form_params: [a]\n"},
		{name: "proxy set_request_headers", endpoint: proxy + "        set_request_headers: {X-A: b}\n"},
		{name: "proxy remove_response_headers", endpoint: proxy + "        remove_response_headers: [X-A]\n"},
		{name: "proxy add_query_params", endpoint: proxy + "        add_query_params: {a: b}\n"},
		{name: "endpoint add_request_headers", endpoint: "    - path: /**\n      add_request_headers: {X-A: b}\n      proxy:\n        backend: api\n"},
		{name: "endpoint set_response_headers", endpoint: "    - path: /**\n      set_response_headers: {X-A: b}\n      proxy:\n        backend: api\n"},
		{name: "endpoint remove_query_params", endpoint: "    - path: /**\n      remove_query_params: [a]\n      proxy:\n        backend: api\n"},
		{name: "endpoint set_form_params", endpoint: "    - path: /**\n      set_form_params: {a: b}\n      proxy:\n        backend: api\n"},
		{name: "refinement plain", endpoint: "    - path: /**\n      proxy:\n        backend:\n          label: api\n          timeout: 3s\n", wantPlain: true},
		{name: "refinement set_request_headers", endpoint: "    - path: /**\n      proxy:\n        backend:\n          label: api\n          set_request_headers: {X-A: b}\n"},
		{name: "refinement remove_response_headers", endpoint: "    - path: /**\n      proxy:\n        backend:\n          label: api\n          remove_response_headers: [X-A]\n"},
		{name: "refinement basic_auth", endpoint: "    - path: /**\n      proxy:\n        backend:\n          label: api\n          basic_auth: \"u:p\"\n"},
		{name: "refinement custom_log_fields", endpoint: "    - path: /**\n      proxy:\n        backend:\n          label: api\n          custom_log_fields: {a: b}\n"},
		{name: "refinement set_response_status", endpoint: "    - path: /**\n      proxy:\n        backend:\n          label: api\n          set_response_status: 201\n"},
		{name: "inline backend", endpoint: "    - path: /**\n      proxy:\n        backend:\n          origin: " + origin + "\n", wantPlain: true},
		{name: "inline backend with modifiers", endpoint: "    - path: /**\n      proxy:\n        backend:\n          origin: " + origin + "\n          add_request_headers: {X-A: b}\n"},
		{name: "request block", endpoint: "    - path: /**\n      request:\n        backend: api\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			endpoint := c.endpoint
			if endpoint == "" {
				endpoint = proxy
			}
			yml := "definitions:\n  backends:\n    api:\n      origin: " + origin + "\n" + c.backend +
				"gateway:\n  address: 127.0.0.1:18999\n" + c.gateway + "  endpoints:\n" + endpoint
			got := plEndpointsPlain(t, yml)
			if len(got) != 1 {
				t.Fatalf("routes %v", got)
			}
			for _, plain := range got {
				if plain != c.wantPlain {
					t.Fatalf("plain %v, want %v", plain, c.wantPlain)
				}
			}
		})
	}
	t.Run("cookie_hash", func(t *testing.T) {
		for set, want := range map[string]bool{"true": false, "false": true} {
			yml := originsYAML("      load_balancing: cookie_hash\n      hash_key: lb\n      hash_cookie_set: "+set+"\n", origin, "http://127.0.0.1:7")
			for _, plain := range plEndpointsPlain(t, yml) {
				if plain != want {
					t.Errorf("hash_cookie_set %s: plain %v, want %v", set, plain, want)
				}
			}
		}
	})
}

// TestPlainLaneEngagesPerRequest: a plain endpoint's requests take the
// lane unless the request itself rules it out.
func TestPlainLaneEngagesPerRequest(t *testing.T) {
	o := newPlOrigin(t, func(plSeen, int) string { return plOK })
	yml := gatewayYAML(o.url(), "", "    - path: /**\n      proxy:\n        backend: api\n        websockets: true\n")
	addr, _ := plHarness(t, yml, false)
	offAddr, _ := plHarness(t, yml, true)
	cases := []struct {
		name    string
		raw     string
		methods []string
		want    bool
	}{
		{"get", plGet(plOrderFields), nil, true},
		{"keep-alive and close", plGet(plOrderFields + "Connection: keep-alive, close\r\n"), nil, true},
		{"http/1.0", "GET /p HTTP/1.0\r\n" + plOrderFields + "\r\n", nil, true},
		{"post", "POST /p HTTP/1.1\r\nHost: a\r\n" + plOrderFields + "Content-Length: 3\r\n\r\nabc", []string{"POST"}, true},
		{"absolute form", "GET http://x.test/p HTTP/1.1\r\nHost: a\r\n" + plOrderFields + "\r\n", nil, true},
		{"expect", "PUT /p HTTP/1.1\r\nHost: a\r\n" + plOrderFields + "Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc", []string{"PUT"}, true},
		{"chunked body", "POST /p HTTP/1.1\r\nHost: a\r\n" + plOrderFields + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", []string{"POST"}, false},
		{"connection names a field", plGet(plOrderFields + "Connection: X-Private\r\nX-Private: 1\r\n"), nil, false},
		{"upgrade", plGet(plOrderFields + "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"), nil, false},
		{"upgrade without connection", plGet(plOrderFields + "Upgrade: h2c\r\n"), nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := plLaneEngaged(t, addr, o, c.raw, c.methods...); got != c.want {
				t.Errorf("lane engaged %v, want %v", got, c.want)
			}
			if plLaneEngaged(t, offAddr, o, c.raw, c.methods...) {
				t.Errorf("plainLaneOff: the lane engaged")
			}
		})
	}
}

// TestPlainLaneKeepsTheOriginsFieldOrder: in the lane the answer's fields
// go out in the order the origin sent them (the header-map path writes a
// map's order).
func TestPlainLaneKeepsTheOriginsFieldOrder(t *testing.T) {
	names := []string{"Zz-Ans", "Aa-Ans", "Mm-Ans", "Bb-Ans", "Yy-Ans"}
	var fields strings.Builder
	for _, n := range names {
		fields.WriteString(n + ": 1\r\n")
	}
	o := newPlOrigin(t, func(s plSeen, n int) string { return plAnswerWith(fields.String(), "x")(s, n, 0) })
	addr, _ := plHarness(t, gatewayYAML(o.url(), "", "    - path: /**\n      proxy:\n        backend: api\n"), false)
	for range 5 {
		as, _ := plExchange(t, addr, plGet(""), http.MethodGet)
		if len(as) != 1 {
			t.Fatal("no answer")
		}
		var got []string
		for _, f := range as[0].fields {
			if strings.HasSuffix(f.name, "-Ans") {
				got = append(got, f.name)
			}
		}
		if strings.Join(got, ",") != strings.Join(names, ",") {
			t.Fatalf("answer fields %v, want the origin's order %v", got, names)
		}
	}
}

// TestPlainLaneNotOnOtherServers: the gateway.tls listener and the
// net/http HTTP/1.1 server have no client fields to send: the header-map
// path serves them, and serves them as before.
func TestPlainLaneNotOnOtherServers(t *testing.T) {
	o := newPlOrigin(t, func(plSeen, int) string { return plOK })
	yml := gatewayYAML(o.url(), "", "    - path: /**\n      proxy:\n        backend: api\n")
	check := func(t *testing.T, h *harness) {
		t.Helper()
		before := len(o.requests())
		resp, body := h.do(http.MethodPost, "/p?q=1", strings.NewReader("hello"), map[string]string{"Zz-Order": "1", "Aa-Order": "1", "Cookie": "c=1"})
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
		seen := o.requests()[before:]
		if len(seen) != 1 || seen[0].body != "hello" || seen[0].target != "/p?q=1" {
			t.Fatalf("origin saw %+v", seen)
		}
		var order []string
		for _, f := range seen[0].fields {
			if f.name == "Cookie" {
				t.Fatalf("cookie forwarded: %v", seen[0].fields)
			}
			if strings.HasSuffix(f.name, "-Order") {
				order = append(order, f.name)
			}
		}
		if strings.Join(order, ",") != "Aa-Order,Zz-Order" {
			t.Fatalf("upstream field order %v: the lane engaged", order)
		}
	}
	t.Run("tls http/1.1", func(t *testing.T) { check(t, newTLSHarness(t, yml, false)) })
	t.Run("tls h2", func(t *testing.T) { check(t, newTLSHarness(t, yml, true)) })
	t.Run("net/http server", func(t *testing.T) {
		h := newHarness(t, strings.Replace(yml, "gateway:\n", "gateway:\n  http1_server: net/http\n", 1))
		check(t, h)
	})
}

// TestPlainLaneAccessLogLinesMatch: the access log line of a plain
// request says what the header-map path's says, with an origin that
// sends the gateway's own error field (on the map path the adopted answer
// map is what the log reads the error type from, so an origin's
// Backline-Error becomes the line's error_type there: that side is the
// one to fix, the lane's line is the right one).
func TestPlainLaneAccessLogLinesMatch(t *testing.T) {
	lines := func(off bool) []map[string]any {
		o := newPlOrigin(t, func(s plSeen, n int) string {
			return plAnswerWith("Backline-Error: forged\r\nX-A: 1\r\n", "x")(s, n, 0)
		})
		cfg := parseConfig(t, gatewayYAML(o.url(), "", "    - path: /**\n      proxy:\n        backend: api\n"))
		logs := &logBuffer{}
		gw, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry(),
			Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		if err != nil {
			t.Fatal(err)
		}
		gw.plainLaneOff = off
		srv := serveForTest(t, gw)
		t.Cleanup(func() { srv.Close(); gw.Close() })
		plExchange(t, srv.Listener.Addr().String(), plGet("User-Agent: ua\r\n"), http.MethodGet)
		h := &harness{logs: logs}
		var got []map[string]any
		waitFor(t, "the access line", func() bool { got = accessLines(t, h); return len(got) == 1 })
		delete(got[0], "request_id")
		return got
	}
	on, off := lines(false), lines(true)
	if fmt.Sprint(on) != fmt.Sprint(off) {
		t.Errorf("access lines differ\nplain lane: %v\nheader-map path: %v", on, off)
	}
}
