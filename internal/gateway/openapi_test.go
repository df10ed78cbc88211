package gateway

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const petsDoc = `openapi: 3.0.3
info: {title: pets, version: '1'}
servers:
  - url: https://pets.example/v1
paths:
  /pets/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
        - {name: token, in: query, schema: {type: integer}}
      responses:
        '200':
          description: a pet
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
  /pets:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
      responses:
        '201': {description: created}
  /blob:
    put:
      requestBody:
        content:
          application/octet-stream:
            schema: {type: string, format: binary}
      responses:
        '200':
          description: the blob back
          content:
            application/octet-stream:
              schema: {type: string, format: binary}
components:
  schemas:
    Pet:
      type: object
      required: [id, name]
      properties:
        id: {type: integer}
        name: {type: string, maxLength: 20}
        next: {$ref: '#/components/schemas/Pet'}
`

// scriptedOrigin answers each request with the next canned response and
// records what it was sent.
type scriptedOrigin struct {
	mu     sync.Mutex
	seen   []string // "METHOD path?query body"
	status int
	ctype  string
	body   string
	gzip   bool // answer with Content-Encoding: gzip
}

func (o *scriptedOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	o.mu.Lock()
	o.seen = append(o.seen, fmt.Sprintf("%s %s %s", r.Method, r.URL.RequestURI(), b))
	status, ctype, body := o.status, o.ctype, o.body
	if o.gzip {
		w.Header().Set("Content-Encoding", "gzip")
	}
	o.mu.Unlock()
	if body == "echo" {
		body = string(b)
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (o *scriptedOrigin) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen...)
}

func (o *scriptedOrigin) answer(status int, ctype, body string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.status, o.ctype, o.body = status, ctype, body
}

// openapiHarness is a gateway with one backend validating against petsDoc;
// the backend puts /v1 in front, so the servers' base path is matched.
func openapiHarness(t *testing.T, extra string) (*harness, *scriptedOrigin) {
	t.Helper()
	doc := filepath.Join(t.TempDir(), "pets.yaml")
	if err := os.WriteFile(doc, []byte(petsDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	o := &scriptedOrigin{status: 200, ctype: "application/json", body: `{"id":1,"name":"rex"}`}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	yml := fmt.Sprintf(`definitions:
  backends:
    pets:
      origin: %s
      path_prefix: /v1
      openapi:
        file: %q
%sgateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /**
      proxy:
        backend: pets
`, srv.URL, doc, extra)
	return newHarness(t, yml), o
}

func TestOpenAPIValidExchangePasses(t *testing.T) {
	h, o := openapiHarness(t, "")
	resp, body := h.do("GET", "/pets/7?token=12", nil, nil)
	if resp.StatusCode != 200 || body != `{"id":1,"name":"rex"}` {
		t.Fatalf("got %d %q, logs %s", resp.StatusCode, body, h.logs)
	}
	o.answer(201, "text/plain", "")
	resp, body = h.do("POST", "/pets", strings.NewReader(`{"id":2,"name":"tom","next":{"id":3,"name":"kit"}}`),
		map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 201 || body != "" {
		t.Fatalf("POST: %d %q, logs %s", resp.StatusCode, body, h.logs)
	}
	want := []string{`GET /v1/pets/7?token=12 `, `POST /v1/pets {"id":2,"name":"tom","next":{"id":3,"name":"kit"}}`}
	if got := o.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("origin saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestOpenAPIRequestViolations: Couper's 400 backend_openapi_validation,
// nothing reaches the origin, and the log names the problem but never the
// value (a query or body value may be a secret).
func TestOpenAPIRequestViolations(t *testing.T) {
	h, o := openapiHarness(t, "")
	json := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name, method, path, body string
		hdr                      map[string]string
		logWants                 string
	}{
		{"path param type", "GET", "/pets/not-a-number", "", nil, `parameter \"id\" in path`},
		{"query param type", "GET", "/pets/1?token=s3cret-token", "", nil, `parameter \"token\" in query`},
		{"unknown path", "GET", "/cats/1", "", nil, "no matching operation was found"},
		{"wrong method", "DELETE", "/pets/1", "", nil, "no matching operation was found"},
		{"missing body", "POST", "/pets", "", json, "request body"},
		{"schema", "POST", "/pets", `{"id":"s3cret","name":"x"}`, json, "at /id"},
		{"too long", "POST", "/pets", `{"id":1,"name":"s3cret-s3cret-s3cret-s3cret"}`, json, "at /name"},
		{"broken json", "POST", "/pets", `{"id":1,"name":"s3cret`, json, "request body"},
		{"wrong content type", "POST", "/pets", `s3cret`, map[string]string{"Content-Type": "text/plain"}, "request body"},
		{"deep json", "POST", "/pets", strings.Repeat(`{"next":`, 5000) + "1" + strings.Repeat("}", 5000), json, "next/next/...(4988 more): value must be an object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			resp, rb := h.do(c.method, c.path, body, c.hdr)
			expectError(t, resp, rb, 400, "backend_openapi_validation")
			logs := h.logs.String()
			if !strings.Contains(logs, c.logWants) {
				t.Fatalf("log lacks %q:\n%s", c.logWants, logs)
			}
			if strings.Contains(logs, "s3cret") {
				t.Fatalf("a request value reached the log:\n%s", logs)
			}
		})
	}
	if got := o.requests(); len(got) != 0 {
		t.Fatalf("invalid requests reached the origin: %q", got)
	}
}

func TestOpenAPIResponseViolationIs502(t *testing.T) {
	h, o := openapiHarness(t, "")
	for _, c := range []struct{ name, ctype, body string }{
		{"schema", "application/json", `{"id":"one"}`},
		{"content type", "text/html", `<p>hi</p>`},
		{"broken json", "application/json", `{"id":`},
	} {
		t.Run(c.name, func(t *testing.T) {
			o.answer(200, c.ctype, c.body)
			resp, body := h.do("GET", "/pets/1", nil, nil)
			expectError(t, resp, body, 502, "backend_openapi_validation")
		})
	}
	if got := len(o.requests()); got != 3 {
		t.Fatalf("origin saw %d requests, want 3 (response validation happens after the round trip)", got)
	}
}

func TestOpenAPIIgnoreViolations(t *testing.T) {
	h, o := openapiHarness(t, "        ignore_request_violations: true\n        ignore_response_violations: true\n")
	o.answer(200, "application/json", `{"id":"one"}`)
	resp, body := h.do("GET", "/pets/abc", nil, nil)
	if resp.StatusCode != 200 || body != `{"id":"one"}` {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if got := o.requests(); len(got) != 1 || got[0] != "GET /v1/pets/abc " {
		t.Fatalf("origin saw %q", got)
	}
	if n := metricSum(t, h, "backline_gateway_errors_total", "", ""); n != 2 {
		t.Fatalf("errors_total = %v, want 2 (openapi_ignored, request and response)", n)
	}
	logs := h.logs.String()
	for _, want := range []string{`"validation":"request: parameter \"id\" in path`, `"validation":"response: response body doesn't match schema #/components/schemas/Pet: at /id`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("log lacks %s:\n%s", want, logs)
		}
	}
}

// TestOpenAPIUnmatchedRouteFailsResponse: with request violations ignored,
// an unknown path still reaches the origin, but there is no operation to
// check its response against (Couper documents the same).
func TestOpenAPIUnmatchedRouteFailsResponse(t *testing.T) {
	h, o := openapiHarness(t, "        ignore_request_violations: true\n")
	resp, body := h.do("GET", "/cats/1", nil, nil)
	expectError(t, resp, body, 502, "backend_openapi_validation")
	if got := o.requests(); len(got) != 1 {
		t.Fatalf("origin saw %q", got)
	}
}

func TestOpenAPIBodyBuffersAreBounded(t *testing.T) {
	big := strings.Repeat("b", 2048)
	bin := map[string]string{"Content-Type": "application/octet-stream"}
	t.Run("strict", func(t *testing.T) {
		h, o := openapiHarness(t, "        max_body_size: 1KiB\n")
		resp, body := h.do("PUT", "/blob", strings.NewReader(big), bin)
		expectError(t, resp, body, 413, "request_too_large")
		if n := len(o.requests()); n != 0 {
			t.Fatalf("origin saw %d requests", n)
		}
		o.answer(200, "application/octet-stream", "echo")
		resp, body = h.do("PUT", "/blob", strings.NewReader(big[:1024]), bin)
		if resp.StatusCode != 200 || body != big[:1024] {
			t.Fatalf("within the limit: %d, %d bytes", resp.StatusCode, len(body))
		}
		// The origin answers more than the buffer holds: not validated, 502.
		o.answer(200, "application/octet-stream", big)
		resp, body = h.do("PUT", "/blob", strings.NewReader("x"), bin)
		expectError(t, resp, body, 502, "backend_openapi_validation")
	})
	t.Run("ignored", func(t *testing.T) {
		h, o := openapiHarness(t, "        max_body_size: 1KiB\n        ignore_request_violations: true\n        ignore_response_violations: true\n")
		o.answer(200, "application/octet-stream", "echo")
		resp, body := h.do("PUT", "/blob", strings.NewReader(big), bin)
		if resp.StatusCode != 200 || body != big {
			t.Fatalf("streamed through: %d, %d bytes", resp.StatusCode, len(body))
		}
		if got := o.requests(); len(got) != 1 || got[0] != "PUT /v1/blob "+big {
			t.Fatalf("origin did not get the whole body")
		}
		if logs := h.logs.String(); !strings.Contains(logs, "larger than max_body_size: not validated") ||
			!strings.Contains(logs, "response body larger than the openapi max_body_size (1024 bytes): not validated") {
			t.Fatalf("logs: %s", logs)
		}
	})
}

func TestOpenAPIHostileRequests(t *testing.T) {
	h, o := openapiHarness(t, "")
	many := "/pets/1?" + strings.Repeat("token=1&", 5000) + "token=1"
	for _, c := range []struct {
		name, path string
		status     int
	}{
		{"repeated query", many, 200},
		{"bad escape", "/pets/1?token=%zz", 400},
		{"encoded slash", "/pets/1%2F2", 400},
		{"control char", "/pets/1?token=%00", 400},
		{"utf8", "/pets/%C3%A9", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := h.do("GET", c.path, nil, nil)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s\nlogs %s", resp.StatusCode, c.status, body, h.logs)
			}
		})
	}
	_ = o
}

func TestOpenAPIGzipResponseIsInflatedForValidation(t *testing.T) {
	h, o := openapiHarness(t, "")
	var zbuf strings.Builder
	zw := gzip.NewWriter(&zbuf)
	_, _ = io.WriteString(zw, `{"id":"one"}`)
	_ = zw.Close()
	o.answer(200, "application/json", zbuf.String())
	o.mu.Lock()
	o.gzip = true
	o.mu.Unlock()
	resp, body := h.do("GET", "/pets/1", nil, map[string]string{"Accept-Encoding": "gzip"})
	expectError(t, resp, body, 502, "backend_openapi_validation")
	zbuf.Reset()
	zw = gzip.NewWriter(&zbuf)
	_, _ = io.WriteString(zw, `{"id":1,"name":"rex"}`)
	_ = zw.Close()
	o.answer(200, "application/json", zbuf.String())
	resp, body = h.do("GET", "/pets/1", nil, map[string]string{"Accept-Encoding": "gzip"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || body != zbuf.String() {
		t.Fatalf("got %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Encoding"), len(body))
	}
}

// TestOpenAPIAppliesToRefinements: a refinement shares its label's
// validator (it may not set openapi itself).
func TestOpenAPIAppliesToRefinements(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "pets.yaml")
	if err := os.WriteFile(doc, []byte(petsDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	o := &scriptedOrigin{status: 200, ctype: "application/json", body: `{"id":1,"name":"rex"}`}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	h := newHarness(t, fmt.Sprintf(`definitions:
  backends:
    pets:
      origin: %s
      openapi: {file: %q}
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /pet/{id}
      proxy:
        backend:
          label: pets
          path: /v1/pets/${request.path_params.id}
`, srv.URL, doc))
	if resp, body := h.do("GET", "/pet/5", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("valid: %d %s", resp.StatusCode, body)
	}
	resp, body := h.do("GET", "/pet/five", nil, nil)
	expectError(t, resp, body, 400, "backend_openapi_validation")
	if got := o.requests(); len(got) != 1 {
		t.Fatalf("origin saw %q", got)
	}
}
