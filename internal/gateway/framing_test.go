package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingOrigin keeps what its handler could read of each request body:
// the bytes and whether the body ended cleanly.
type recordingOrigin struct {
	url    string
	mu     sync.Mutex
	bodies []seenBody
}

type seenBody struct {
	path string
	body string
	err  error
}

func newRecordingOrigin(t *testing.T) *recordingOrigin {
	t.Helper()
	o := &recordingOrigin{}
	s := newEchoWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		o.mu.Lock()
		o.bodies = append(o.bodies, seenBody{path: r.URL.EscapedPath(), body: string(b), err: err})
		o.mu.Unlock()
		_, _ = io.WriteString(w, "origin:"+string(b))
	}))
	o.url = s
	return o
}

func (o *recordingOrigin) seen() []seenBody {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]seenBody(nil), o.bodies...)
}

// rawAnswer is what a client writing raw bytes got back.
type rawAnswer struct {
	resp *http.Response
	body string
	// closed: the gateway closed the connection after the answer.
	closed bool
}

// rawRequest writes raw to the gateway and reads one answer. The bounds
// only stop a broken test.
func rawRequest(t *testing.T, h *harness, raw string) rawAnswer {
	return rawRequestProbe(t, h, raw, false)
}

// rawRequestClosing also checks whether the gateway closed the connection
// after the answer (an open one costs the 2 s bound).
func rawRequestClosing(t *testing.T, h *harness, raw string) rawAnswer {
	return rawRequestProbe(t, h, raw, true)
}

func rawRequestProbe(t *testing.T, h *harness, raw string, probeClose bool) rawAnswer {
	t.Helper()
	c := h.dialRaw(t)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to %q: %v", raw, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !probeClose {
		return rawAnswer{resp: resp, body: string(b)}
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = br.ReadByte()
	return rawAnswer{resp: resp, body: string(b), closed: errors.Is(err, io.EOF)}
}

// framingHarnessFunc makes the gateway a framing test talks to: plain
// (framingHarness) or behind gateway.tls (tlsFramingHarness).
type framingHarnessFunc func(t *testing.T, o *recordingOrigin, endpoint string) *harness

func framingHarness(t *testing.T, o *recordingOrigin, endpoint string) *harness {
	t.Helper()
	if endpoint == "" {
		endpoint = "    - path: /api/**\n      proxy:\n        backend: api\n"
	}
	return newHarness(t, gatewayYAML(o.url, "", endpoint))
}

// RFC 9112 §6.1: chunked is not defined for HTTP/1.0; such a message has
// faulty framing. net/http drops the header and reads no body, so the
// origin used to get an empty POST and the client a 200.
func TestHTTP10ChunkedIsRefused(t *testing.T) {
	testHTTP10ChunkedIsRefused(t, framingHarness)
}

func testHTTP10ChunkedIsRefused(t *testing.T, newH framingHarnessFunc) {
	o := newRecordingOrigin(t)
	h := newH(t, o, "")
	a := rawRequestClosing(t, h, "POST /api/x HTTP/1.0\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	expectError(t, a.resp, a.body, 400, "client_request")
	if !a.closed {
		t.Fatal("connection stays open after a request with faulty framing")
	}
	if seen := o.seen(); len(seen) != 0 {
		t.Fatalf("origin saw %+v", seen)
	}
}

// RFC 9112 §6.1: a server MAY refuse Content-Length together with
// Transfer-Encoding and MUST close the connection after answering.
func TestContentLengthWithChunkedIsRefusedAndClosed(t *testing.T) {
	testContentLengthWithChunkedIsRefusedAndClosed(t, framingHarness)
}

func testContentLengthWithChunkedIsRefusedAndClosed(t *testing.T, newH framingHarnessFunc) {
	o := newRecordingOrigin(t)
	h := newH(t, o, "")
	for _, raw := range []string{
		"POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST /api/x HTTP/1.1\r\nHost: gw\r\ncontent-length: 12\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /api/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n",
	} {
		a := rawRequestClosing(t, h, raw)
		expectError(t, a.resp, a.body, 400, "client_request")
		if !a.closed || !a.resp.Close {
			t.Fatalf("%q: connection stays open (closed %v, Connection: close %v)", raw, a.closed, a.resp.Close)
		}
	}
	if seen := o.seen(); len(seen) != 0 {
		t.Fatalf("origin saw %+v", seen)
	}
}

// Broken chunked framing surfaces while the body streams upstream; it is
// the client's fault, not the backend's.
func TestMalformedChunkedBodyIsClientError(t *testing.T) {
	o := newRecordingOrigin(t)
	h := framingHarness(t, o, "")
	for name, chunks := range map[string]string{
		"bare LF in size line":  "5\nhello\r\n0\r\n\r\n",
		"bare LF after data":    "5\r\nhello\n0\r\n\r\n",
		"overflowing size":      "fffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
		"not hex":               "zz\r\nhello\r\n0\r\n\r\n",
		"data longer than size": "2\r\nhello\r\n0\r\n\r\n",
	} {
		a := rawRequest(t, h, "POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"+chunks)
		if a.resp.StatusCode != 400 || a.resp.Header.Get(ErrorHeader) != "client_request" {
			t.Errorf("%s: status %d, %s %q; want 400 client_request", name, a.resp.StatusCode, ErrorHeader, a.resp.Header.Get(ErrorHeader))
		}
	}
	for _, s := range o.seen() {
		if s.err == nil && s.body != "" {
			t.Errorf("origin took a broken body as complete: %+v", s)
		}
	}
	if n := metricSum(t, h, "backline_gateway_errors_total", "type", "backend"); n != 0 {
		t.Errorf("backend errors counted: %v", n)
	}
	if n := metricSum(t, h, "backline_gateway_errors_total", "type", "client_request"); n != 5 {
		t.Errorf("client_request errors counted: %v, want 5", n)
	}
}

// Dot segments in the request path, raw or percent-encoded, never reach
// routing or the origin: path_prefix would silently be escaped and a url
// /** used to answer 500 configuration.
func TestDotSegmentsAreClientErrors(t *testing.T) {
	o := newRecordingOrigin(t)
	endpoints := "    - path: /api/**\n      proxy:\n        backend:\n          label: api\n          path_prefix: /v2\n" +
		"    - path: /url/**\n      proxy:\n        backend: api\n        url: /base/**\n"
	h := framingHarness(t, o, endpoints)
	for _, p := range []string{
		"/api/%2e%2e/%2e%2e/admin", "/api/../../admin", "/api/.%2E/x", "/api/..%2fadmin", "/api/..%5cadmin",
		"/api/./x", "/url/%2e%2e/secret", "/url/a/%2E%2E/%2e%2e/secret",
	} {
		a := rawRequest(t, h, "GET "+p+" HTTP/1.1\r\nHost: gw\r\n\r\n")
		if a.resp.StatusCode != 400 || a.resp.Header.Get(ErrorHeader) != "client_request" {
			t.Errorf("%s: status %d, %s %q, body %q; want 400 client_request", p, a.resp.StatusCode, ErrorHeader, a.resp.Header.Get(ErrorHeader), a.body)
		}
	}
	if seen := o.seen(); len(seen) != 0 {
		t.Fatalf("origin saw %+v", seen)
	}
	// Dots inside a segment are ordinary names.
	a := rawRequest(t, h, "GET /api/a..b/.well-known/x.y HTTP/1.1\r\nHost: gw\r\n\r\n")
	if a.resp.StatusCode != 200 {
		t.Fatalf("dots inside segments: status %d %s", a.resp.StatusCode, a.body)
	}
	if got := o.seen()[0].path; got != "/v2/api/a..b/.well-known/x.y" {
		t.Fatalf("origin path %q", got)
	}
}

// A backend path built from request values that breaks the path rules is
// the request's fault: 400, not 500 configuration.
func TestRequestValuesBreakingPathRulesAreClientErrors(t *testing.T) {
	o := newRecordingOrigin(t)
	endpoints := "    - path: /users/{id}\n      proxy:\n        backend:\n          label: api\n          path: /accounts/${request.headers.x-id}\n"
	h := framingHarness(t, o, endpoints)
	for _, id := range []string{"..", "a?b", "x#y", "%2e%2e"} {
		resp, body := h.do(http.MethodGet, "/users/7", nil, map[string]string{"X-Id": id})
		expectError(t, resp, body, 400, "client_request")
	}
	if n := metricSum(t, h, "backline_gateway_errors_total", "type", "configuration"); n != 0 {
		t.Errorf("configuration errors counted: %v", n)
	}
}

// readAnswers reads n answers from one connection.
func readAnswers(t *testing.T, br *bufio.Reader, n int) []rawAnswer {
	t.Helper()
	var out []rawAnswer
	for i := 0; i < n; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, rawAnswer{resp: resp, body: string(b)})
	}
	return out
}

// Well-framed keep-alive traffic keeps its connection: pipelined requests
// with Content-Length bodies, the CRLF some clients add after a POST, and
// a HTTP/1.0 keep-alive request. The framing scan must stay in step.
func TestWellFramedPipelineKeepsTheConnection(t *testing.T) {
	testWellFramedPipelineKeepsTheConnection(t, framingHarness)
}

func testWellFramedPipelineKeepsTheConnection(t *testing.T, newH framingHarnessFunc) {
	o := newRecordingOrigin(t)
	h := newH(t, o, "")
	c := h.dialRaw(t)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	pipeline := "POST /api/1 HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhello" +
		"\r\n" + // tolerated after a POST
		"POST /api/2 HTTP/1.1\nHost: gw\ncontent-length:  3 \n\nabc" +
		"GET /api/3 HTTP/1.1\r\nHost: gw\r\nX-Long: " + strings.Repeat("v", 2000) + "\r\n\r\n" +
		"OPTIONS * HTTP/1.1\r\nHost: gw\r\n\r\n" + // answered by net/http itself
		"POST /api/4 HTTP/1.1\r\nHost: gw\r\nContent-Length: 9\r\n\r\nGET / x\r\n"
	if _, err := io.WriteString(c, pipeline); err != nil {
		t.Fatal(err)
	}
	for i, a := range readAnswers(t, br, 5) {
		if a.resp.StatusCode != 200 || a.resp.Close {
			t.Fatalf("answer %d: status %d, close %v, body %q", i+1, a.resp.StatusCode, a.resp.Close, a.body)
		}
	}
	// One more round trip after the pipeline, on the same connection.
	_, _ = io.WriteString(c, "POST /api/5 HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
	if a := readAnswers(t, br, 1)[0]; a.resp.StatusCode != 200 || a.body != "origin:ok" {
		t.Fatalf("after the pipeline: %d %q", a.resp.StatusCode, a.body)
	}
	var got []string
	for _, s := range o.seen() {
		got = append(got, s.path+"="+s.body)
	}
	want := "/api/1=hello /api/2=abc /api/3= /api/4=GET / x\r\n /api/5=ok"
	if strings.Join(got, " ") != want {
		t.Fatalf("origin saw %q, want %q", strings.Join(got, " "), want)
	}
}

// A chunked HTTP/1.1 upload is forwarded intact, its extensions and
// trailer dropped, and the plain listener's server (which parses chunked
// bodies itself) serves the request after it on the same connection.
// Over TLS (net/http and the framing scan) the connection closes after it
// instead (tlslistener_test.go).
func TestChunkedUploadKeepsTheConnection(t *testing.T) {
	o := newRecordingOrigin(t)
	h := framingHarness(t, o, "")
	c := h.dialRaw(t)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "POST /api/up HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"+
		"GET /api/after HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	answers := readAnswers(t, bufio.NewReader(c), 2)
	if a := answers[0]; a.resp.StatusCode != 200 || a.body != "origin:hello world" || a.resp.Close {
		t.Fatalf("upload: status %d body %q close %v", a.resp.StatusCode, a.body, a.resp.Close)
	}
	if a := answers[1]; a.resp.StatusCode != 200 {
		t.Fatalf("after the upload: status %d body %q", a.resp.StatusCode, a.body)
	}
	var got []string
	for _, s := range o.seen() {
		got = append(got, s.path+"="+s.body)
	}
	if strings.Join(got, " ") != "/api/up=hello world /api/after=" {
		t.Fatalf("origin saw %q", got)
	}
}

func testChunkedUploadIsForwardedThenTheConnectionCloses(t *testing.T, newH framingHarnessFunc) {
	o := newRecordingOrigin(t)
	h := newH(t, o, "")
	a := rawRequestClosing(t, h, "POST /api/up HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"+
		"GET /api/after HTTP/1.1\r\nHost: gw\r\n\r\n")
	if a.resp.StatusCode != 200 || a.body != "origin:hello world" || !a.resp.Close || !a.closed {
		t.Fatalf("status %d body %q close %v closed %v", a.resp.StatusCode, a.body, a.resp.Close, a.closed)
	}
	if seen := o.seen(); len(seen) != 1 {
		t.Fatalf("origin saw %+v", seen)
	}
}

// HTTP/1.0 keep-alive with Transfer-Encoding is the smuggling shape: a
// front proxy that honours the chunked body would forward it whole, while
// net/http would read the body as the next request.
func TestHTTP10ChunkedCannotSmuggle(t *testing.T) {
	testHTTP10ChunkedCannotSmuggle(t, framingHarness)
}

func testHTTP10ChunkedCannotSmuggle(t *testing.T, newH framingHarnessFunc) {
	o := newRecordingOrigin(t)
	h := newH(t, o, "")
	smuggled := "GET /api/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n"
	a := rawRequestClosing(t, h, "POST /api/x HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\n"+
		"Transfer-Encoding: chunked\r\n\r\n"+fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled))
	expectError(t, a.resp, a.body, 400, "client_request")
	if !a.closed {
		t.Fatal("connection stays open")
	}
	if seen := o.seen(); len(seen) != 0 {
		t.Fatalf("origin saw %+v", seen)
	}
}

// The scan notes the same heads however the bytes arrive: request lines,
// framing fields, Content-Length bodies skipped, and it stops at a
// Transfer-Encoding or a Content-Length net/http would refuse.
func TestFramingScanIsSplitInvariant(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"POST /a HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhello\r\nGET /b HTTP/1.0\nX: y\n\n",
			"POST /a HTTP/1.1 te=false cl=true body=5; GET /b HTTP/1.0 te=false cl=false body=0; scanning"},
		{"GET /a HTTP/1.1\r\nHost: gw\r\nX-Fold: a\r\n Content-Length: 7\r\n\r\nPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
			"GET /a HTTP/1.1 te=false cl=false body=0; POST /c HTTP/1.1 te=true cl=true body=-1; stopped"},
		{"GET /" + strings.Repeat("x", 2*maxLineCapture) + " HTTP/1.1\r\nContent-Length:\t2 \r\n\r\nabGET /d HTTP/1.1\r\n\r\n",
			"GET /" + strings.Repeat("x", maxLineCapture-5) + " te=false cl=true body=2; GET /d HTTP/1.1 te=false cl=false body=0; scanning"},
		{"POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "stopped"},
		{"\r\nGET / HTTP/1.1\r\n\r\n", "stopped"}, // net/http refuses the empty request line
	} {
		for _, size := range []int{len(tc.in), 1, 2, 7} {
			c := &framingConn{}
			c.startHead()
			for rest := tc.in; len(rest) > 0; {
				n := min(size, len(rest))
				c.scan([]byte(rest[:n]))
				rest = rest[n:]
			}
			var got []string
			for _, f := range c.heads {
				got = append(got, fmt.Sprintf("%s te=%v cl=%v body=%d", f.line, f.transferEncoding, f.contentLength, f.contentLengthBody))
			}
			got = append(got, map[scanState]string{scanHead: "scanning", scanBody: "in a body", scanLost: "stopped"}[c.state])
			if strings.Join(got, "; ") != tc.want {
				t.Errorf("%.40q in pieces of %d:\n got %s\nwant %s", tc.in, size, strings.Join(got, "; "), tc.want)
			}
		}
	}
}

// The same through net/http's Transport (h2c here), which reads the
// client's body on a goroutine of its own.
func TestMalformedChunkedBodyIsClientErrorThroughNetHTTPTransport(t *testing.T) {
	o := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	o.Config.Protocols = new(http.Protocols)
	o.Config.Protocols.SetUnencryptedHTTP2(true)
	o.Start()
	t.Cleanup(o.Close)
	h := newHarness(t, gatewayYAML(o.URL, "      http2_prior_knowledge: true\n", "    - path: /api/**\n      proxy:\n        backend: api\n"))
	a := rawRequest(t, h, "POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
	expectError(t, a.resp, a.body, 400, "client_request")
}

func TestDotSegment(t *testing.T) {
	for path, want := range map[string]bool{
		"": false, "/": false, "/a/b": false, "/a//b": false, "/a..b": false, "/.well-known/x": false,
		"/...": false, "/a/b.": false,
		".": true, "..": true, "/..": true, "/.": true, "/a/../b": true, "/a/./b": true, "/a/..": true,
		`/a\..\b`: true, `\..`: true, `/a\.`: true, "/a/.\\b": true,
	} {
		if got := dotSegment(path); got != want {
			t.Errorf("dotSegment(%q) = %v, want %v", path, got, want)
		}
	}
}
