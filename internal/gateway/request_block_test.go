package gateway

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// requestEndpoint is gatewayYAML with one request endpoint at /r/{id}
// (line 8); the lines of attrs start at line 11, indented by 8.
func requestEndpoint(origin, backend, attrs string) string {
	return gatewayYAML(origin, backend, "    - path: /r/{id}\n      request:\n        backend: api\n"+attrs)
}

func TestRequestQueryParams(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, requestEndpoint(o.URL, "", `        url: /q?keep=1&over=old
        query_params:
          over: ${request.query.x}
          multi: [a, "b c"]
          id: ${request.path_params.id}
`))
	e := h.echo("/r/7?x=new", nil)
	if e.Method != http.MethodGet || e.Path != "/q" {
		t.Fatalf("echo = %+v", e)
	}
	if want := "id=7&keep=1&multi=a&multi=b%20c&over=new"; e.RawQuery != want {
		t.Fatalf("query = %q, want %q", e.RawQuery, want)
	}
}

func TestRequestJSONBody(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, requestEndpoint(o.URL, "", `        json_body:
          id: ${request.path_params.id}
          n: 42
          pi: 1.5
          ok: true
          none: null
          tags: [a, "${request.headers.x-tag}", 7]
          nested:
            q: "<${request.query.q}>&"
            lit: $${request.method}
          static: {a: [1, {}], b: []}
`))
	e := h.echo(`/r/42?q=hi%20%22x%22`, map[string]string{"X-Tag": "T"})
	want := `{"id":"42","n":42,"nested":{"lit":"${request.method}","q":"<hi \"x\">&"},` +
		`"none":null,"ok":true,"pi":1.5,"static":{"a":[1,{}],"b":[]},"tags":["a","T",7]}`
	if e.Method != http.MethodPost || e.Body != want {
		t.Fatalf("method %s body\n got %s\nwant %s", e.Method, e.Body, want)
	}
	if ct := e.Header["Content-Type"]; len(ct) != 1 || ct[0] != "application/json" {
		t.Fatalf("Content-Type = %v", ct)
	}
	// Compiled once: constant subtrees are pre-encoded, only the leaves
	// that read the request stay templates.
	root := h.gw.router.routes[0].endpoint.request.jsonBody
	if root.raw != nil || !root.object || len(root.items) != 8 {
		t.Fatalf("root = %+v", root)
	}
	for i, k := range root.keys {
		dynamic := map[string]bool{`"id"`: true, `"nested"`: true, `"tags"`: true}[string(k)]
		if (root.items[i].raw == nil) != dynamic {
			t.Errorf("%s: raw = %q, want constant %v", k, root.items[i].raw, !dynamic)
		}
	}
}

func TestRequestJSONBodyScalarAndOverrides(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "", `    - path: /scalar
      request:
        backend: api
        json_body: just text
    - path: /typed
      request:
        backend: api
        method: put
        headers:
          content-type: application/vnd.api+json
        json_body: [1, two]
`))
	e := h.echo("/scalar", nil)
	if e.Method != http.MethodPost || e.Body != `"just text"` {
		t.Fatalf("scalar: %+v", e)
	}
	e = h.echo("/typed", nil)
	if e.Method != http.MethodPut || e.Body != `[1,"two"]` {
		t.Fatalf("typed: %+v", e)
	}
	if ct := e.Header["Content-Type"]; len(ct) != 1 || ct[0] != "application/vnd.api+json" {
		t.Fatalf("Content-Type = %v", ct)
	}
}

func TestRequestFormBody(t *testing.T) {
	o := newEcho(t)
	// The backend's form modifiers see the form: it is a POST with the
	// urlencoded Content-Type.
	h := newHarness(t, requestEndpoint(o.URL, "      set_form_params:\n        extra: backend\n", `        form_body:
          user: ${request.headers.x-user}
          a b: c&d
          multi: [1, 2]
`))
	e := h.echo("/r/1", map[string]string{"X-User": "U ser"})
	if e.Method != http.MethodPost || e.Body != "a+b=c%26d&extra=backend&multi=1&multi=2&user=U+ser" {
		t.Fatalf("echo = %+v", e)
	}
	if ct := e.Header["Content-Type"]; len(ct) != 1 || ct[0] != "application/x-www-form-urlencoded" {
		t.Fatalf("Content-Type = %v", ct)
	}
}

func TestRequestDefaultMethod(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "", `    - path: /none
      request:
        backend: api
    - path: /body
      request:
        backend: api
        body: hello
`))
	if e := h.echo("/none", nil); e.Method != http.MethodGet || e.Body != "" {
		t.Fatalf("no body: %+v", e)
	}
	if e := h.echo("/body", nil); e.Method != http.MethodPost || e.Body != "hello" {
		t.Fatalf("body: %+v", e)
	}
}

func TestRequestBodyConfigErrors(t *testing.T) {
	const prefix = "gateway.endpoints[0].request."
	cases := []struct{ name, attrs, want string }{
		{"body and json_body", "        body: x\n        json_body: {a: 1}\n",
			prefix + "json_body (line 12): set only one of body, json_body and form_body (body is set too)"},
		{"json_body and form_body", "        form_body: {a: b}\n        json_body: 1\n",
			prefix + "json_body (line 12): set only one of body, json_body and form_body (form_body is set too)"},
		{"not a number in JSON", "        json_body: {a: .nan}\n",
			prefix + "json_body.a (line 11): .nan cannot be written in JSON"},
		{"form_body not a mapping", "        form_body: [a]\n",
			prefix + "form_body (line 11): must be a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantConfigError(t, requestEndpoint("http://127.0.0.1:9", "", c.attrs), c.want)
		})
	}
}

// Placeholders are compiled at New; a typo anywhere names its own key and line.
func TestRequestTemplateErrorsNameKeyAndLine(t *testing.T) {
	const prefix = "gateway.endpoints[0].request."
	cases := []struct{ name, attrs, want string }{
		{"json leaf", "        json_body:\n          a:\n            b: [ok, \"${request.nope}\"]\n", prefix + "json_body.a.b[1] (line 13)"},
		{"query_params", "        query_params:\n          q: ${request.nope}\n", prefix + "query_params.q (line 12)"},
		{"form_body", "        form_body:\n          f: ${request.nope}\n", prefix + "form_body.f (line 12)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(Options{Config: parseConfig(t, requestEndpoint("http://127.0.0.1:9", "", c.attrs))})
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("err = %v", err)
			}
			if got := errs[0].Error(); !strings.HasPrefix(got, c.want+": unknown placeholder ${request.nope}") {
				t.Fatalf("err = %q, want prefix %q", got, c.want)
			}
		})
	}
}

// Hop-by-hop headers written in a request block stay on this hop, and the
// headers a Connection header names go with them.
func TestRequestBlockStripsHopHeaders(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "", `    - path: /r
      request:
        backend: api
        headers:
          Connection: X-Secret
          X-Secret: s3cret
          Keep-Alive: timeout=5
          X-Kept: yes
`))
	e := h.echo("/r", nil)
	for _, name := range []string{"Connection", "X-Secret", "Keep-Alive"} {
		if _, ok := e.Header[name]; ok {
			t.Fatalf("%s reached the origin: %v", name, e.Header)
		}
	}
	if e.Header["X-Kept"] == nil {
		t.Fatalf("X-Kept missing: %v", e.Header)
	}
}

func TestRequestEndpointRejectsRequestModifiers(t *testing.T) {
	_, err := config.Parse([]byte(gatewayYAML("http://127.0.0.1:1", "", `    - path: /r
      set_request_headers:
        X-A: b
      set_response_headers:
        X-Fine: yes
      request:
        backend: api
`)))
	if err == nil || !strings.Contains(err.Error(), "gateway.endpoints[0].set_request_headers") ||
		strings.Contains(err.Error(), "set_response_headers") {
		t.Fatalf("err = %v", err)
	}
}

// A form the gateway must rewrite but will not hold in memory is the
// client's problem: 413, whichever block's form modifiers read it.
func TestOversizedFormIs413(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "      set_form_params:\n        b: x\n", `    - path: /backend
      proxy:
        backend: api
    - path: /endpoint
      set_form_params:
        e: x
      proxy:
        backend:
          origin: `+o.URL+`
`))
	big := "a=" + strings.Repeat("x", maxFormBody)
	for _, path := range []string{"/backend", "/endpoint"} {
		resp, body := h.do(http.MethodPost, path, strings.NewReader(big),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		expectError(t, resp, body, 413, "request_too_large")
	}
}
