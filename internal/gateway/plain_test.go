package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// headOrigin is an origin on a raw socket: it records each request head
// (and body, by Content-Length) exactly as it arrived and answers every
// request with answer, on one kept-alive connection.
type headOrigin struct {
	addr   string
	answer string
	mu     sync.Mutex
	heads  []string
	bodies []string
}

func newHeadOrigin(t *testing.T, answer string) *headOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &headOrigin{addr: ln.Addr().String(), answer: answer}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				o.serve(c)
			}()
		}
	}()
	return o
}

func (o *headOrigin) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		var head strings.Builder
		length := 0
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Content-Length") {
				for _, d := range strings.TrimSpace(value) {
					length = length*10 + int(d-'0')
				}
			}
			if line == "\r\n" {
				break
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		o.mu.Lock()
		o.heads = append(o.heads, head.String())
		o.bodies = append(o.bodies, string(body))
		o.mu.Unlock()
		if _, err := io.WriteString(c, o.answer); err != nil {
			return
		}
	}
}

func (o *headOrigin) last(t *testing.T) (head, body string) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.heads) == 0 {
		t.Fatal("the origin got no request")
	}
	return o.heads[len(o.heads)-1], o.bodies[len(o.bodies)-1]
}

// exchangeRaw sends raw on a new connection and returns the answer's head
// and body as bytes (Content-Length framed).
func exchangeRaw(t *testing.T, h *harness, raw string) (head, body string) {
	t.Helper()
	c := h.dialRaw(t)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var hb strings.Builder
	length := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("answer head: %v (so far %q)", err, hb.String())
		}
		hb.WriteString(line)
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Content-Length") {
			for _, d := range strings.TrimSpace(value) {
				length = length*10 + int(d-'0')
			}
		}
		if line == "\r\n" {
			break
		}
	}
	b := make([]byte, length)
	if _, err := io.ReadFull(br, b); err != nil {
		t.Fatal(err)
	}
	return hb.String(), string(b)
}

const plainAnswer = "HTTP/1.1 200 OK\r\n" +
	"Server: origin\r\n" +
	"Date: Fri, 04 Dec 2026 12:00:00 GMT\r\n" +
	"Content-Type: text/plain\r\n" +
	"Connection: keep-alive\r\n" +
	"Keep-Alive: timeout=5\r\n" +
	"Couper-Request-Id: from-the-origin\r\n" +
	"Set-Cookie: a=1\r\n" +
	"Set-Cookie: b=2\r\n" +
	"Content-Length: 5\r\n" +
	"\r\n" +
	"hello"

// A plain request goes upstream with its client's fields in the order
// they came, less what the gateway never forwards, and the gateway's own
// fields after them; the answer keeps the origin's fields in order, less
// hop-by-hop ones, with the gateway's request id in place of the origin's.
func TestPlainLaneWire(t *testing.T) {
	o := newHeadOrigin(t, plainAnswer)
	h := newHarness(t, gatewayYAML("http://"+o.addr, "", "    - path: /p/**\n      proxy:\n        backend: api\n"))
	head, body := exchangeRaw(t, h, "POST /p/x?q=1 HTTP/1.1\r\n"+
		"Host: gw.example\r\n"+
		"user-agent: curl/8\r\n"+
		"Accept: */*\r\n"+
		"Authorization: Basic c2VjcmV0\r\n"+
		"X-Forwarded-For: 203.0.113.9\r\n"+
		"X-Forwarded-Proto: https\r\n"+
		"X_Forwarded_Proto: https\r\n"+
		"Cookie: s=1\r\n"+
		"Accept: text/plain\r\n"+
		"Couper-Request-Id: chosen-by-client\r\n"+
		"Connection: keep-alive\r\n"+
		"Keep-Alive: 300\r\n"+
		"Content-Length: 3\r\n"+
		"\r\n"+
		"abc")
	if body != "hello" {
		t.Fatalf("body %q", body)
	}
	id := ""
	for line := range strings.SplitSeq(head, "\r\n") {
		if v, ok := strings.CutPrefix(line, "Couper-Request-Id: "); ok {
			id = v
		}
	}
	if id == "" || id == "from-the-origin" || id == "chosen-by-client" {
		t.Fatalf("answer's request id %q, head:\n%s", id, head)
	}
	wantAnswer := "HTTP/1.1 200 OK\r\n" +
		"Server: origin\r\n" +
		"Date: Fri, 04 Dec 2026 12:00:00 GMT\r\n" +
		"Content-Type: text/plain\r\n" +
		"Set-Cookie: a=1\r\n" +
		"Set-Cookie: b=2\r\n" +
		"Content-Length: 5\r\n" +
		"Couper-Request-Id: " + id + "\r\n" +
		"\r\n"
	if head != wantAnswer {
		t.Errorf("answer head:\n%q\nwant\n%q", head, wantAnswer)
	}
	up, upBody := o.last(t)
	wantUp := "POST /p/x?q=1 HTTP/1.1\r\n" +
		"Host: " + o.addr + "\r\n" +
		"user-agent: curl/8\r\n" +
		"Accept: */*\r\n" +
		"Accept: text/plain\r\n" +
		"X-Forwarded-Proto: http\r\n" +
		"X-Forwarded-Host: gw.example\r\n" +
		"X-Forwarded-For: 203.0.113.9, 127.0.0.1\r\n" +
		"Couper-Request-Id: " + id + "\r\n" +
		"Content-Length: 3\r\n" +
		"\r\n"
	if up != wantUp || upBody != "abc" {
		t.Errorf("upstream request:\n%q\nwant\n%q (body %q)", up, wantUp, upBody)
	}
}

// With the lane off, the same request and answer carry the same fields
// (the header-map path sorts them and writes canonical names).
func TestPlainLaneOffSendsTheSameFields(t *testing.T) {
	o := newHeadOrigin(t, plainAnswer)
	h := newHarness(t, gatewayYAML("http://"+o.addr, "", "    - path: /p/**\n      proxy:\n        backend: api\n"))
	req := "GET /p/x HTTP/1.1\r\nHost: gw.example\r\nAccept: */*\r\nX-Forwarded-For: 203.0.113.9\r\nCookie: s=1\r\n\r\n"
	laneAnswer, _ := exchangeRaw(t, h, req)
	laneUp, _ := o.last(t)
	h.gw.plainLaneOff = true
	mapAnswer, _ := exchangeRaw(t, h, req)
	mapUp, _ := o.last(t)
	for _, pair := range [][2]string{{laneUp, mapUp}, {laneAnswer, mapAnswer}} {
		a, b := fieldSet(pair[0]), fieldSet(pair[1])
		if a != b {
			t.Errorf("lane:\n%s\nmap path:\n%s", a, b)
		}
	}
}

// fieldSet is a head's first line and its fields, canonical names, sorted,
// without the values that differ per request (the id, Date) or by design
// (User-Agent: the map path sends none when the client sent none).
func fieldSet(head string) string {
	lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
	out := []string{lines[0]}
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ": ")
		name = canonicalName(name)
		switch name {
		case "Couper-Request-Id", "Date":
			value = "*"
		}
		out = append(out, name+": "+value)
	}
	sortStrings(out[1:])
	return strings.Join(out, "\n")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// The lane is chosen at load: any block that changes the request or the
// answer keeps an endpoint on the header-map path.
func TestPlainProxyChoice(t *testing.T) {
	cases := []struct {
		name, backend, endpoint string
		plain                   bool
	}{
		{"plain", "", "    - path: /x\n      proxy:\n        backend: api\n", true},
		{"endpoint modifier", "", "    - path: /x\n      set_request_headers:\n        X-A: b\n      proxy:\n        backend: api\n", false},
		{"proxy modifier", "", "    - path: /x\n      proxy:\n        backend: api\n        set_response_headers:\n          X-A: b\n", false},
		{"backend modifier", "      add_request_headers:\n        X-A: b\n", "    - path: /x\n      proxy:\n        backend: api\n", false},
		{"basic_auth", "      basic_auth: \"u:p\"\n", "    - path: /x\n      proxy:\n        backend: api\n", false},
		{"set_response_status", "      set_response_status: 201\n", "    - path: /x\n      proxy:\n        backend: api\n", false},
		{"custom_log_fields", "", "    - path: /x\n      custom_log_fields:\n        a: b\n      proxy:\n        backend: api\n", false},
		{"request block", "", "    - path: /x\n      request:\n        backend: api\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, gatewayYAML("http://127.0.0.1:1", tc.backend, tc.endpoint))
			var got []bool
			for _, r := range h.gw.router.routes {
				got = append(got, r.endpoint.plain)
			}
			if len(got) != 1 || got[0] != tc.plain {
				t.Fatalf("plain = %v, want %v", got, tc.plain)
			}
		})
	}
}

// A chunked request body, an Upgrade and a Connection naming a field keep
// the request on the header-map path, whose upstream head has sorted,
// canonical names.
func TestPlainRequestFallsBack(t *testing.T) {
	o := newHeadOrigin(t, plainAnswer)
	h := newHarness(t, gatewayYAML("http://"+o.addr, "", "    - path: /p/**\n      proxy:\n        backend: api\n"))
	_, _ = exchangeRaw(t, h, "GET /p/x HTTP/1.1\r\nHost: a\r\nzz: 1\r\nConnection: x-drop\r\nX-Drop: 1\r\nAa: 2\r\n\r\n")
	up, _ := o.last(t)
	if strings.Contains(up, "X-Drop") || !strings.Contains(up, "Aa: 2\r\n") || bytes.Index([]byte(up), []byte("Aa: 2")) > bytes.Index([]byte(up), []byte("Zz: 1")) {
		t.Fatalf("not the header-map path's head:\n%s", up)
	}
}

// A raw answer keeps the origin's spelling of a name (no allocation for
// ETag) and still drops hop-by-hop fields and the origin's request id in
// any case.
func TestPlainAnswerKeepsSpelling(t *testing.T) {
	o := newHeadOrigin(t, "HTTP/1.1 200 OK\r\n"+
		"ETag: \"abc\"\r\n"+
		"connection: keep-alive\r\n"+
		"keep-alive: timeout=5\r\n"+
		"couper-request-id: from-the-origin\r\n"+
		"content-length: 2\r\n"+
		"Date: Fri, 04 Dec 2026 12:00:00 GMT\r\n"+
		"\r\n"+
		"ok")
	h := newHarness(t, gatewayYAML("http://"+o.addr, "", "    - path: /p/**\n      proxy:\n        backend: api\n"))
	head, body := exchangeRaw(t, h, "GET /p/x HTTP/1.1\r\nHost: a\r\n\r\n")
	if body != "ok" {
		t.Fatalf("body %q", body)
	}
	lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
	if len(lines) != 5 || lines[1] != `ETag: "abc"` || lines[2] != "content-length: 2" ||
		lines[3] != "Date: Fri, 04 Dec 2026 12:00:00 GMT" || !strings.HasPrefix(lines[4], "Couper-Request-Id: ") ||
		strings.Contains(lines[4], "from-the-origin") {
		t.Fatalf("answer head:\n%s", head)
	}
}
