package gateway

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func gatewayYAML(origin, backend, endpoints string) string {
	return fmt.Sprintf(`definitions:
  backends:
    api:
      origin: %s
%sgateway:
  address: 127.0.0.1:18999
  endpoints:
%s`, origin, backend, endpoints)
}

func TestModifierLayering(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, `      set_request_headers:
        X-Layer: backend
      add_request_headers:
        X-Multi: backend
      set_response_headers:
        X-Layer: backend
        X-Backend-Only: b
      remove_response_headers: [X-Origin]
`, `    - path: /layer
      set_request_headers:
        X-Layer: endpoint
        X-Endpoint-Only: e
      add_request_headers:
        X-Multi: endpoint
      set_response_headers:
        X-Layer: endpoint
      proxy:
        backend: api
        set_request_headers:
          X-Layer: proxy
        add_request_headers:
          X-Multi: [proxy1, proxy2]
        set_response_headers:
          X-Layer: proxy
          X-Proxy-Only: p
`))
	resp, body := h.do(http.MethodGet, "/layer", nil, map[string]string{"X-Multi": "client"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	e := decodeEcho(t, body)
	// Request side: endpoint -> proxy -> backend, so the backend's set wins.
	if got := e.Header["X-Layer"]; len(got) != 1 || got[0] != "backend" {
		t.Fatalf("X-Layer upstream = %v", got)
	}
	if got := strings.Join(e.Header["X-Multi"], ","); got != "client,endpoint,proxy1,proxy2,backend" {
		t.Fatalf("X-Multi upstream = %s", got)
	}
	if e.Header["X-Endpoint-Only"][0] != "e" {
		t.Fatalf("endpoint header lost: %v", e.Header)
	}
	// Response side: backend -> proxy -> endpoint, so the endpoint's set wins.
	if got := resp.Header.Values("X-Layer"); len(got) != 1 || got[0] != "endpoint" {
		t.Fatalf("X-Layer response = %v", got)
	}
	if resp.Header.Get("X-Backend-Only") != "b" || resp.Header.Get("X-Proxy-Only") != "p" || resp.Header.Get("X-Origin") != "" {
		t.Fatalf("response headers = %v", resp.Header)
	}
	// Hop-by-hop headers of the origin (and those it names in Connection) are dropped.
	if resp.Header.Get("X-Private") != "" {
		t.Fatalf("hop-by-hop header forwarded: %v", resp.Header)
	}
}

func TestRemoveSetAddOrderWithinBlock(t *testing.T) {
	o := newEcho(t)
	// Written add, set, remove: applied remove -> set -> add regardless.
	h := newHarness(t, gatewayYAML(o.URL, `      add_request_headers:
        X-A: added
      set_request_headers:
        X-A: set
      remove_request_headers: [X-A, X-Gone]
`, "    - path: /x\n      proxy:\n        backend: api\n"))
	e := h.echo("/x", map[string]string{"X-A": "client", "X-Gone": "g"})
	if got := strings.Join(e.Header["X-A"], ","); got != "set,added" || e.Header["X-Gone"] != nil {
		t.Fatalf("X-A = %s, headers %v", got, e.Header)
	}
}

func TestQueryModifiers(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, `      remove_query_params: [r]
      set_query_params:
        s: set
      add_query_params:
        a: ["1", "2"]
`, "    - path: /q\n      proxy:\n        backend: api\n    - path: /raw\n      proxy:\n        backend:\n          origin: "+o.URL+"\n"))
	e := h.echo("/q?r=1&s=orig&a=0&keep=k", nil)
	if e.RawQuery != "a=0&a=1&a=2&keep=k&s=set" {
		t.Fatalf("query = %s", e.RawQuery)
	}
	e = h.echo("/q?x=x+x&b=a%20a", nil)
	if e.RawQuery != "a=1&a=2&b=a%20a&s=set&x=x%2Bx" {
		t.Fatalf("query = %s", e.RawQuery)
	}
	// Without query modifiers the raw query passes untouched.
	e = h.echo("/raw?z=1&a=x+y&a=%41", nil)
	if e.RawQuery != "z=1&a=x+y&a=%41" {
		t.Fatalf("raw query = %s", e.RawQuery)
	}
}

func TestFormModifiers(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, `      remove_form_params: [h]
      set_form_params:
        f: set
      add_form_params:
        g: add
`, "    - path: /f\n      proxy:\n        backend: api\n"))
	resp, body := h.do(http.MethodPost, "/f", strings.NewReader("h=1&f=orig&g=0&k=keep"),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	e := decodeEcho(t, body)
	if resp.StatusCode != 200 || e.Body != "f=set&g=0&g=add&k=keep" {
		t.Fatalf("status %d body %q", resp.StatusCode, e.Body)
	}
	// JSON body: modifiers skipped with a warning, request still succeeds.
	resp, body = h.do(http.MethodPost, "/f", strings.NewReader(`{"h":1}`), map[string]string{"Content-Type": "application/json"})
	if e = decodeEcho(t, body); resp.StatusCode != 200 || e.Body != `{"h":1}` {
		t.Fatalf("status %d body %q", resp.StatusCode, e.Body)
	}
	if !strings.Contains(h.logs.String(), "content-type mismatch: application/json") {
		t.Fatalf("no warning logged: %s", h.logs.String())
	}
	h.echo("/f", nil)
	if !strings.Contains(h.logs.String(), "method mismatch: GET") {
		t.Fatalf("no method warning: %s", h.logs.String())
	}
}

func TestCredentialsCookiesForwardedForAndBasicAuth(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, `      basic_auth: user:s3cret-pass
      set_request_headers:
        Authorization: Bearer from-backend
`, "    - path: /a\n      proxy:\n        backend: api\n    - path: /plain\n      proxy:\n        backend:\n          origin: "+o.URL+"\n"))
	e := h.echo("/a", map[string]string{"Authorization": "Bearer client", "Cookie": "c=1", "X-Forwarded-For": "10.1.2.3"})
	// basic_auth runs last and overrides every other Authorization.
	if got := e.Header["Authorization"]; len(got) != 1 || got[0] != "Basic dXNlcjpzM2NyZXQtcGFzcw==" {
		t.Fatalf("Authorization = %v", got)
	}
	if e.Header["Cookie"] != nil {
		t.Fatalf("cookie forwarded")
	}
	if got := e.Header["X-Forwarded-For"]; len(got) != 1 || got[0] != "10.1.2.3, 127.0.0.1" {
		t.Fatalf("X-Forwarded-For = %v", got)
	}
	e = h.echo("/plain", map[string]string{"Authorization": "Bearer client"})
	if e.Header["Authorization"] != nil || e.Header["X-Forwarded-For"][0] != "127.0.0.1" {
		t.Fatalf("headers = %v", e.Header)
	}
	if strings.Contains(h.logs.String(), "s3cret-pass") || strings.Contains(h.logs.String(), "dXNlcjpzM2NyZXQtcGFzcw") {
		t.Fatalf("secret in logs: %s", h.logs.String())
	}
}

func TestURLBuilding(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL+"/ignored", `      hostname: virtual.example
      path_prefix: /pre
`, `    - path: /vvv/**
      proxy:
        backend:
          label: api
          path: /api/**
    - path: /users/{id}/posts/{post}
      proxy:
        backend:
          label: api
          path: /u/${request.path_params.id}/${request.path_params.post}
    - path: /plain/{x}
      proxy:
        backend: api
    - path: /url/**
      proxy:
        url: /target/**?fixed=1
        backend: api
    - path: /abs
      proxy:
        url: `+o.URL+`/absolute
`))
	for _, c := range []struct{ in, want string }{
		{"/vvv/foo", "/pre/api/foo"},
		{"/vvv/foo/bar/", "/pre/api/foo/bar/"},
		{"/vvv", "/pre/api"},
		{"/vvv/", "/pre/api/"}, // the trailing slash is kept for the wildcard part
		{"/url/", "/pre/target/"},
		{"/users/7/posts/abc", "/pre/u/7/abc"},
		{"/plain/z", "/pre/plain/z"},
		{"/url/a/b", "/pre/target/a/b"},
	} {
		e := h.echo(c.in, nil)
		if e.Path != c.want {
			t.Errorf("%s -> %s, want %s", c.in, e.Path, c.want)
		}
		if e.Host != "virtual.example" {
			t.Errorf("%s: Host = %s", c.in, e.Host)
		}
	}
	if e := h.echo("/url/x?q=1", nil); e.RawQuery != "fixed=1" {
		t.Errorf("url query = %s", e.RawQuery)
	}
	e := h.echo("/abs?k=v", map[string]string{"Host": "client.example"})
	if e.Path != "/absolute" || e.RawQuery != "k=v" || e.Host != strings.TrimPrefix(o.URL, "http://") {
		t.Errorf("absolute url: %+v", e)
	}
	// A dot segment from the client is the client's error (issue 9).
	resp, body := h.do(http.MethodGet, "/users/7/posts/%2e%2e", nil, nil)
	expectError(t, resp, body, 400, "client_request")
}

func TestRoutingErrorsAndSetResponseStatus(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "      set_response_status: 201\n", `    - path: /only-post
      methods: [post]
      proxy:
        backend: api
    - path: /created
      proxy:
        backend: api
    - path: /only-get
      methods: [get]
      proxy:
        backend: api
    - path: /empty
      proxy:
        backend:
          label: api
          set_response_status: 204
`))
	resp, body := h.do(http.MethodGet, "/nowhere", nil, nil)
	expectError(t, resp, body, 404, "route_not_found")
	resp, body = h.do(http.MethodGet, "/only-post", nil, nil)
	expectError(t, resp, body, 405, "method_not_allowed")
	if resp.Header.Get("Allow") != "POST" {
		t.Fatalf("Allow = %q", resp.Header.Get("Allow"))
	}
	resp, body = h.do(http.MethodPost, "/only-get", nil, nil)
	expectError(t, resp, body, 405, "method_not_allowed")
	if resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("Allow = %q, want GET with the HEAD it implies", resp.Header.Get("Allow"))
	}
	resp, body = h.do(http.MethodGet, "/created", nil, nil)
	if resp.StatusCode != 201 || !strings.Contains(body, `"path":"/created"`) {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	resp, body = h.do(http.MethodGet, "/empty", nil, nil)
	if resp.StatusCode != 204 || body != "" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
}

func TestRequestBlockAndTemplates(t *testing.T) {
	o := newEcho(t)
	t.Setenv("BACKLINE_GW_TEST_TOKEN", "tok")
	h := newHarness(t, gatewayYAML(o.URL, "", `    - path: /r/{id}
      request:
        backend: api
        method: put
        url: /made/${request.path_params.id}
        headers:
          X-Token: ${env.BACKLINE_GW_TEST_TOKEN}
          X-From: ${request.method} ${request.path} ${request.query.q} ${request.headers.x-in} $${request.method}
        body: id=${request.path_params.id}
`))
	e := h.echo("/r/42?q=query", map[string]string{"X-In": "in", "X-Not-Forwarded": "1"})
	if e.Method != "PUT" || e.Path != "/made/42" || e.Body != "id=42" || e.Header["X-Not-Forwarded"] != nil {
		t.Fatalf("echo = %+v", e)
	}
	if ua, ok := e.Header["User-Agent"]; ok {
		t.Fatalf("request block sent a User-Agent %v; Go's default must be suppressed", ua)
	}
	if e.Header["X-Token"][0] != "tok" || e.Header["X-From"][0] != "GET /r/42 query in ${request.method}" {
		t.Fatalf("headers = %v", e.Header)
	}
}

// An environment value holding "${" stays literal in a gateway value, and
// $${NAME} writes a literal ${NAME}: neither is read as a placeholder.
func TestEnvValuesAndEscapesStayLiteral(t *testing.T) {
	t.Setenv("BACKLINE_TEST_SECRET", "pa${request.method}ss")
	t.Setenv("HOME_FOR_TEST", "/root")
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, `      basic_auth: user:${BACKLINE_TEST_SECRET}
      set_request_headers:
        X-Literal: $${HOME_FOR_TEST} and $${request.method}
`, "    - path: /x\n      proxy:\n        backend: api\n"))
	e := h.echo("/x", nil)
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:pa${request.method}ss"))
	if got := strings.Join(e.Header["Authorization"], ","); got != want {
		t.Fatalf("Authorization = %q, want %q", got, want)
	}
	if got := strings.Join(e.Header["X-Literal"], ","); got != "${HOME_FOR_TEST} and ${request.method}" {
		t.Fatalf("X-Literal = %q", got)
	}
}
