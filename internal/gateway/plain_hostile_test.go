package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// Hostile input against the plain lane (plain.go): what the gateway
// refused before it refuses the same way, and what it forwarded before it
// forwards the same way, body troubles included.

// TestPlainLaneRefusesWhatTheMapPathRefuses: smuggling attempts and
// malformed heads get the same answer with the lane on and off.
func TestPlainLaneRefusesWhatTheMapPathRefuses(t *testing.T) {
	post := func(fields, body string) string {
		return "POST /p HTTP/1.1\r\nHost: gw.test\r\n" + fields + "\r\n" + body
	}
	cases := []plDiffCase{
		{name: "content-length and chunked", noUpstream: true, methods: []string{"POST"},
			request: post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n") + plGet("X-Smuggled: 1\r\n")},
		{name: "chunked and content-length", noUpstream: true, methods: []string{"POST"},
			request: post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", "0\r\n\r\n") + plGet("X-Smuggled: 1\r\n")},
		{name: "two content-lengths", noUpstream: true, methods: []string{"POST"},
			request: post("Content-Length: 3\r\nContent-Length: 30\r\n", "abc") + plGet("X-Smuggled: 1\r\n")},
		{name: "content-length list", noUpstream: true, methods: []string{"POST"}, request: post("Content-Length: 3, 3\r\n", "abc")},
		{name: "content-length sign", noUpstream: true, methods: []string{"POST"}, request: post("Content-Length: +3\r\n", "abc")},
		{name: "content-length hex", noUpstream: true, methods: []string{"POST"}, request: post("Content-Length: 0x3\r\n", "abc")},
		{name: "obs-fold", noUpstream: true, request: plGet("X-A: 1\r\n  folded: in\r\n")},
		{name: "obs-fold tab", noUpstream: true, request: plGet("X-A: 1\r\n\tContent-Length: 5\r\n")},
		{name: "NUL in value", noUpstream: true, request: plGet("X-A: a\x00b\r\n")},
		{name: "CTL in value", noUpstream: true, request: plGet("X-A: a\x01b\r\n")},
		{name: "DEL in value", noUpstream: true, request: plGet("X-A: a\x7fb\r\n")},
		{name: "CR in value", noUpstream: true, request: plGet("X-A: a\rContent-Length: 5\r\n")},
		{name: "space in name", noUpstream: true, request: plGet("X A: 1\r\n")},
		{name: "space before colon", noUpstream: true, request: plGet("Content-Length : 5\r\n")},
		{name: "empty name", noUpstream: true, request: plGet(": v\r\n")},
		{name: "no colon", noUpstream: true, request: plGet("X-A\r\n")},
		{name: "two hosts", noUpstream: true, request: plGet("Host: other.test\r\n")},
		{name: "bad host", noUpstream: true, request: "GET /p HTTP/1.1\r\nHost: a b\r\n\r\n"},
		{name: "no host", noUpstream: true, request: "GET /p HTTP/1.1\r\nX-A: 1\r\n\r\n"},
		{name: "chunked in http/1.0", noUpstream: true, methods: []string{"POST"},
			request: "POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		{name: "unknown transfer-encoding", noUpstream: true, methods: []string{"POST"}, request: post("Transfer-Encoding: gzip, chunked\r\n", "")},
		{name: "unsupported expect", noUpstream: true, methods: []string{"POST"}, request: post("Expect: 200-ok\r\nContent-Length: 1\r\n", "a")},
		{name: "dot segments", noUpstream: true, request: "GET /a/../b HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "http/2 version", noUpstream: true, request: "GET /p HTTP/2.0\r\nHost: gw.test\r\n\r\n"},
		{name: "bare LF", request: "GET /p HTTP/1.1\nHost: gw.test\nX-A: 1\nx-b:  2 \n\n"},
		{name: "mixed line ends", request: "GET /p HTTP/1.1\r\nHost: gw.test\nX-A: 1\r\n\n"},
		{name: "high bytes in value", request: plGet("X-A: caf\xc3\xa9 \xff\r\n")},
		{name: "chunked body forwarded", methods: []string{"POST"},
			request: post("Transfer-Encoding: chunked\r\nX-A: 1\r\n", "3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n")},
		{name: "chunked body pipelined", methods: []string{"POST", "GET"},
			request: post("Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n0\r\n\r\n") + plGet("X-Second: 2\r\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { plCompare(t, c) })
	}
}

// TestPlainLaneBodies: bodies around the 64 KiB the request writer holds
// arrive whole, the same with the lane on and off.
func TestPlainLaneBodies(t *testing.T) {
	for _, n := range []int{64<<10 - 1, 64 << 10, 64<<10 + 1, 1 << 20} {
		body := strings.Repeat("0123456789abcdef", n/16+1)[:n]
		c := plDiffCase{name: fmt.Sprint(n), methods: []string{"PUT", "GET"},
			request: fmt.Sprintf("PUT /big HTTP/1.1\r\nHost: gw.test\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n%s", n, body) + plGet("X-After: 1\r\n"),
			answer: func(s plSeen, _, _ int) string {
				return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(s.body), s.body)
			}}
		t.Run(c.name, func(t *testing.T) {
			plCompare(t, c)
		})
	}
}

// TestPlainLaneOriginAnswersBeforeTheBody: an origin that answers (413)
// as soon as it has the head, then reads the body and closes.
func TestPlainLaneOriginAnswersBeforeTheBody(t *testing.T) {
	for _, n := range []int{5, 300 << 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			req := fmt.Sprintf("POST /up HTTP/1.1\r\nHost: gw.test\r\nContent-Length: %d\r\n\r\n%s", n, strings.Repeat("x", n))
			run := func(off bool) (string, string) {
				o := newPlOrigin(t, func(plSeen, int) string {
					return "HTTP/1.1 413 Content Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig"
				})
				o.early = true
				addr, gw := plHarness(t, gatewayYAML(o.url(), "", "    - path: /**\n      proxy:\n        backend: api\n"), off)
				as, closed := plExchange(t, addr, req, "POST")
				gw.Close()
				waitFor(t, "the origin to finish", func() bool {
					o.mu.Lock()
					defer o.mu.Unlock()
					return len(o.conns) == 0
				})
				seen := o.requests()
				heads := ""
				for _, s := range seen {
					s.body = fmt.Sprintf("<%d bytes>", len(s.body))
					heads += strings.ReplaceAll(plSeenText(s, "Couper-Request-Id"), o.ln.Addr().String(), "<origin>")
				}
				return heads, plAnswersText(as, closed, "Couper-Request-Id")
			}
			upOn, ansOn := run(false)
			upOff, ansOff := run(true)
			if ansOn != ansOff {
				t.Errorf("answers differ\n--- plain lane:\n%s\n--- header-map path:\n%s", ansOn, ansOff)
			}
			if upOn != upOff {
				t.Errorf("upstream differs\n--- plain lane:\n%s\n--- header-map path:\n%s", upOn, upOff)
			}
		})
	}
}

// plSendAndStop writes raw to the gateway, then half-closes (the client
// sent all it will) or closes (it left), and reads what comes back.
func plSendAndStop(t *testing.T, addr, raw string, leave bool) []plAnswer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // a hang guard
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	if leave {
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		return nil
	}
	_ = c.(*net.TCPConn).CloseWrite()
	as, _ := plReadAnswers(bufio.NewReader(c), []string{"POST"})
	return as
}

// TestPlainLaneShortBody: a client that declares more body than it sends
// (then half-closes, or leaves): the origin sees the same, the client
// gets the same answer, with the lane on and off.
func TestPlainLaneShortBody(t *testing.T) {
	for _, c := range []struct {
		name     string
		declared int
		sent     int
		leave    bool
	}{
		{"short small half-close", 10, 5, false},
		{"short large half-close", 200 << 10, 100 << 10, false},
		{"nothing sent half-close", 10, 0, false},
		{"client leaves mid-body", 300 << 10, 100 << 10, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := fmt.Sprintf("POST /short HTTP/1.1\r\nHost: gw.test\r\nX-A: 1\r\nContent-Length: %d\r\n\r\n%s", c.declared, strings.Repeat("y", c.sent))
			run := func(off bool) (string, string) {
				o := newPlOrigin(t, func(plSeen, int) string { return plOK })
				addr, gw := plHarness(t, gatewayYAML(o.url(), "", "    - path: /**\n      proxy:\n        backend: api\n"), off)
				as := plSendAndStop(t, addr, raw, c.leave)
				// Idle upstream connections go, so the origin's side of
				// each exchange ends.
				gw.Close()
				waitFor(t, "the origin to finish", func() bool {
					o.mu.Lock()
					defer o.mu.Unlock()
					return len(o.conns) == 0
				})
				var heads []string
				for _, s := range o.requests() {
					got := fmt.Sprintf("%d bytes", len(s.body))
					if s.bodyErr != nil {
						got = "a cut body" // how much got through is timing
					}
					s.body, s.bodyErr = got, nil
					heads = append(heads, strings.ReplaceAll(plSeenText(s, "Couper-Request-Id"), o.ln.Addr().String(), "<origin>"))
				}
				slices.Sort(heads)
				return strings.Join(heads, "\n"), plAnswersText(as, false, "Couper-Request-Id")
			}
			upOn, ansOn := run(false)
			upOff, ansOff := run(true)
			if ansOn != ansOff {
				t.Errorf("answers differ\n--- plain lane:\n%s\n--- header-map path:\n%s", ansOn, ansOff)
			}
			// Whether the gateway got as far as the origin before the
			// body failed is timing: the heads are compared when both did.
			if upOn != upOff && upOn != "" && upOff != "" {
				t.Errorf("upstream differs\n--- plain lane:\n%s\n--- header-map path:\n%s", upOn, upOff)
			}
			if strings.Contains(upOn, fmt.Sprintf("%d bytes", c.declared)) {
				t.Errorf("the origin got a whole body the client never sent:\n%s", upOn)
			}
		})
	}
}

// TestPlainLanePipelinedFieldsStayWithTheirRequest: requests pipelined on
// one connection, with many fields then few: each upstream request has
// its own client's fields and nothing of the one before.
func TestPlainLanePipelinedFieldsStayWithTheirRequest(t *testing.T) {
	var many strings.Builder
	for i := range 40 {
		fmt.Fprintf(&many, "X-One-%02d: %d\r\n", i, i)
	}
	var some strings.Builder
	for i := range 20 {
		fmt.Fprintf(&some, "X-Three-%02d: %d\r\n", i, i)
	}
	raw := plGet(many.String()) +
		"POST /two HTTP/1.1\r\nHost: gw.test\r\nX-Two: 2\r\nContent-Length: 3\r\n\r\nabc" +
		plGet(some.String()) +
		"GET /four HTTP/1.1\r\nHost: gw.test\r\n\r\n"
	methods := []string{"GET", "POST", "GET", "GET"}
	c := plDiffCase{name: "pipelined", methods: methods, request: raw}
	plCompare(t, c)

	o := newPlOrigin(t, func(plSeen, int) string { return plOK })
	addr, _ := plHarness(t, gatewayYAML(o.url(), "", "    - path: /**\n      proxy:\n        backend: api\n"), false)
	as, _ := plExchange(t, addr, raw, methods...)
	if len(as) != 4 {
		t.Fatalf("%d answers", len(as))
	}
	seen := o.requests()
	if len(seen) != 4 {
		t.Fatalf("origin saw %d requests", len(seen))
	}
	prefixes := []string{"X-One-", "X-Two", "X-Three-", ""}
	for i, s := range seen {
		for _, f := range s.fields {
			if !strings.HasPrefix(f.name, "X-") || strings.HasPrefix(f.name, "X-Forwarded-") {
				continue
			}
			if prefixes[i] == "" || !strings.HasPrefix(f.name, prefixes[i]) {
				t.Errorf("request %d (%s %s) carries %s: %s", i+1, s.method, s.target, f.name, f.value)
			}
		}
	}
}
