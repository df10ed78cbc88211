package gateway

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// accessLines returns the decoded "gateway access" lines.
func accessLines(t *testing.T, h *harness) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "gateway access" {
			delete(m, "time")
			delete(m, "duration_ms")
			delete(m, "client_ip") // 127.0.0.1, checked below
			out = append(out, m)
		}
	}
	return out
}

func accessYAML(origin, gatewayExtra string) string {
	return `definitions:
  backends:
    api:
      origin: ` + origin + `
gateway:
  address: 127.0.0.1:18999
` + gatewayExtra + `  endpoints:
    - path: /things/{id}
      custom_log_fields:
        id: ${request.id}
        thing: ${request.path_params.id}
        tags: [a, "${request.method}"]
      proxy:
        backend: api
`
}

func TestAccessLogLineAndRequestID(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, accessYAML(o.URL, ""))
	resp, body := h.do("GET", "/things/7?x=1", nil, map[string]string{
		"User-Agent":        "probe/1",
		"Couper-Request-Id": "client-chosen", // not accepted: accept_from_header is off
	})
	e := decodeEcho(t, body)
	id := resp.Header.Get("Couper-Request-Id")
	if id == "" || id == "client-chosen" || e.Header["Couper-Request-Id"][0] != id || len(e.Header["Couper-Request-Id"]) != 1 {
		t.Fatalf("client got id %q, origin got %q", id, e.Header["Couper-Request-Id"])
	}
	lines := accessLines(t, h)
	if len(lines) != 1 {
		t.Fatalf("%d access lines:\n%s", len(lines), h.logs)
	}
	got, _ := json.Marshal(lines[0])
	want := `{"backend":"api","bytes":` + itoa(len(body)) + `,"custom":{"id":"` + id + `","tags":["a","GET"],"thing":"7"},"endpoint":"/things/{id}","level":"INFO","method":"GET","msg":"gateway access","path":"/things/7","proto":"HTTP/1.1","query":"x=1","request_id":"` + id + `","status":200,"user_agent":"probe/1"}`
	if string(got) != want {
		t.Fatalf("access line\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(h.logs.String(), `"client_ip":"127.0.0.1"`) {
		t.Fatalf("no client_ip: %s", h.logs)
	}
}

// TestAccessLogNeverLogsCredentials: Authorization, cookies and
// secret-looking query values stay out of every log line.
func TestAccessLogNeverLogsCredentials(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, accessYAML(o.URL, ""))
	h.do("GET", "/things/1?api_key=SECRET1&x=1&access_token=SECRET2&Sig=SECRET3&%74oken=SECRET4&flag&a=1;id_token=SECRET9&acc%65ss_token=SECRET10&X-Amz-Credential=SECRET11", nil, map[string]string{
		"Authorization": "Bearer SECRET5",
		"Cookie":        "session=SECRET6",
	})
	h.do("GET", "/nowhere?password=SECRET7", nil, map[string]string{"Authorization": "Basic SECRET8"})
	// A '#' in the target stays in the raw query net/url returns.
	rawRequest(t, h, "GET /things/2?a=1#access_token=SECRET12 HTTP/1.1\r\nHost: x\r\n\r\n")
	logs := h.logs.String()
	if strings.Contains(logs, "SECRET") {
		t.Fatalf("a credential reached the log:\n%s", logs)
	}
	if !strings.Contains(logs, `"query":"api_key=<redacted>&x=1&access_token=<redacted>&Sig=<redacted>&%74oken=<redacted>&flag&a=1;id_token=<redacted>&acc%65ss_token=<redacted>&X-Amz-Credential=<redacted>"`) {
		t.Fatalf("query not kept with redactions:\n%s", logs)
	}
	lines := accessLines(t, h)
	if !strings.Contains(logs, `"query":"a=1#access_token=<redacted>"`) {
		t.Fatalf("fragment-looking query not kept with redactions:\n%s", logs)
	}
	if len(lines) != 3 || lines[1]["status"] != float64(404) || lines[1]["error_type"] != "route_not_found" || lines[1]["endpoint"] != nil {
		t.Fatalf("error request line: %v", lines)
	}
}

func TestAccessLogOffAndRequestIDSettings(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, accessYAML(o.URL, `  access_log: false
  request_id:
    backend_header: X-Request-Id
    client_header: ""
    accept_from_header: X-Request-Id
`))
	resp, body := h.do("GET", "/things/1", nil, map[string]string{"X-Request-Id": "edge-4711.a:b"})
	e := decodeEcho(t, body)
	if resp.Header.Get("Couper-Request-Id") != "" || resp.Header.Get("X-Request-Id") != "" {
		t.Fatalf("client header sent: %v", resp.Header)
	}
	if got := e.Header["X-Request-Id"]; len(got) != 1 || got[0] != "edge-4711.a:b" {
		t.Fatalf("accepted id not forwarded: %q", got)
	}
	if _, ok := e.Header["Couper-Request-Id"]; ok {
		t.Fatal("default header still sent")
	}
	// A hostile id (spaces, too long, two values) is replaced by our own.
	for _, bad := range []string{"a b", strings.Repeat("x", 129), "a;b", "ünï"} {
		_, body = h.do("GET", "/things/1", nil, map[string]string{"X-Request-Id": bad})
		if got := decodeEcho(t, body).Header["X-Request-Id"]; len(got) != 1 || got[0] == bad || !strings.HasPrefix(got[0], h.gw.ids.prefix) {
			t.Fatalf("id %q forwarded as %q", bad, got)
		}
	}
	if lines := accessLines(t, h); len(lines) != 0 {
		t.Fatalf("access_log false still logs: %v", lines)
	}
	// Disabled upstream header.
	h2 := newHarness(t, accessYAML(o.URL, "  request_id: {backend_header: \"\"}\n"))
	resp, body = h2.do("GET", "/things/1", nil, nil)
	if _, ok := decodeEcho(t, body).Header["Couper-Request-Id"]; ok || resp.Header.Get("Couper-Request-Id") == "" {
		t.Fatalf("backend_header off: upstream %v, client %q", decodeEcho(t, body).Header, resp.Header.Get("Couper-Request-Id"))
	}
}

func TestGatewayCustomLogFieldsAreInherited(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, accessYAML(o.URL, "  custom_log_fields: {site: edge-1, thing: gateway, ua: \"${request.headers.user-agent}\"}\n"))
	h.do("GET", "/things/9", nil, map[string]string{"User-Agent": "ua/1"})
	h.do("GET", "/nowhere", nil, map[string]string{"User-Agent": "ua/2"})
	lines := accessLines(t, h)
	if len(lines) != 2 {
		t.Fatalf("lines %v", lines)
	}
	got0, _ := json.Marshal(lines[0]["custom"])
	got1, _ := json.Marshal(lines[1]["custom"])
	// The endpoint's thing wins; without an endpoint only the gateway's.
	if string(got0) != `{"id":"`+lines[0]["request_id"].(string)+`","site":"edge-1","tags":["a","GET"],"thing":"9","ua":"ua/1"}` ||
		string(got1) != `{"site":"edge-1","thing":"gateway","ua":"ua/2"}` {
		t.Fatalf("custom fields\n%s\n%s", got0, got1)
	}
}

func TestRequestIDFormatUUID4(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, accessYAML(o.URL, "  request_id: {format: UUID4}\n"))
	resp, body := h.do("GET", "/things/1", nil, nil)
	id := resp.Header.Get("Couper-Request-Id")
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) ||
		decodeEcho(t, body).Header["Couper-Request-Id"][0] != id {
		t.Fatalf("id %q", id)
	}
	if other := newUUID4(); other == id {
		t.Fatal("uuid4 repeats")
	}
}

func TestRequestIDConfigErrors(t *testing.T) {
	base := "gateway:\n  address: 127.0.0.1:18999\n  request_id:\n"
	wantConfigError(t, base+"    backend_header: Authorization\n", "gateway.request_id.backend_header (line 4)", "cannot carry the request id")
	wantConfigError(t, base+"    client_header: \"bad header\"\n", "gateway.request_id.client_header (line 4)", "not a valid HTTP header name")
	wantConfigError(t, base+"    accept_from_header: Host\n", "gateway.request_id.accept_from_header (line 4)")
	wantConfigError(t, base+"    format: xid\n", "gateway.request_id.format (line 4)", "use common or uuid4")
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
