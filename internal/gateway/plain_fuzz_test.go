package gateway

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// plFuzzPair is a gateway with the plain lane and one without, each in
// front of its own recording origin, both origins answering fuzz.answer.
type plFuzzPair struct {
	addrs   [2]string
	origins [2]*plOrigin
}

type plFuzzAnswer struct {
	mu     sync.Mutex
	answer string
}

func (a *plFuzzAnswer) get(plSeen, int) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.answer
}

func newPlFuzzPair(t testing.TB, ans *plFuzzAnswer, gatewayExtra string) *plFuzzPair {
	p := &plFuzzPair{}
	for i, off := range []bool{false, true} {
		o := newPlOrigin(t, ans.get)
		yml := "definitions:\n  backends:\n    api:\n      origin: " + o.url() + "\ngateway:\n  address: 127.0.0.1:18999\n" +
			gatewayExtra + "  endpoints:\n    - path: /**\n      proxy:\n        backend: api\n"
		p.addrs[i], _ = plHarness(t, yml, off)
		p.origins[i] = o
	}
	return p
}

// plFuzzLines keeps the field lines of s that cannot change the framing
// (no Content-Length or Transfer-Encoding, which would leave one side
// waiting for bytes that never come) nor end the head early (no empty
// line), each ended as it was (CRLF or a bare LF).
func plFuzzLines(s string) string {
	var b strings.Builder
	for line := range strings.SplitAfterSeq(s, "\n") {
		bare := strings.TrimRight(line, "\r\n")
		lower := strings.ToLower(bare)
		if bare == "" || strings.Contains(lower, "content-length") || strings.Contains(lower, "transfer-encoding") {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			line += "\r\n"
		}
		b.WriteString(line)
	}
	return b.String()
}

var plFuzzMethods = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "PURGE"}

// FuzzPlainLaneMatchesMapPath: fuzzed client fields, method, body and
// origin answer fields go through the lane and the header-map path; the
// origin must see the same request and the client get the same answer.
func FuzzPlainLaneMatchesMapPath(f *testing.F) {
	seeds := []struct {
		method        byte
		target        string
		client, body  string
		origin        string
		status        uint16
		trusted, http bool
	}{
		{0, "/f?x=1", "Accept: */*\r\n", "", "Content-Type: text/plain\r\n", 200, false, true},
		{1, "/f?x=1", "X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\nX_Forwarded_Host: e\r\n", "body", "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n", 201, true, true},
		{2, "/f?x=1", "Connection: close\r\nClose: 1\r\nCookie: c\r\nAuthorization: x\r\n", "", "Connection: keep-alive\r\nKeep-Alive: 5\r\n", 200, false, false},
		{3, "/f?x=1", "Expect: 100-continue\r\nUser-Agent: a\r\n", "xyz", "Date: Mon, 01 Jan 2001 00:00:00 GMT\r\n", 500, false, true},
		{4, "/f?x=1", "Te: trailers\r\nProxy-Connection: x\r\nKeep-Alive: 1\r\n", "", "Proxy-Authenticate: x\r\nUpgrade: h2c\r\n", 200, true, true},
		{5, "/f?x=1", "Connection: X-A\r\nX-A: 1\r\n", "", "couper-request-id: o\r\nx-lower: 1\r\n", 404, false, true},
		{6, "/f?x=1", "Couper-Request-Id: c\r\nX-Dup: 1\r\nx-dup: 2\r\n", "", "X-Dup: 1\r\nX-Dup: 2\r\n", 299, true, false},
		{7, "/f?x=1", "Upgrade: websocket\r\nConnection: Upgrade\r\n", "", "Trailer: x\r\n", 200, false, true},
		{0, "/f?x=1", "X-A: a\x00b\r\n", "", "X-B: \x01\r\n", 200, false, true},
		{0, "/f?x=1", "X-A: 1\nX-B: 2\n", "", "X-C:  3 \r\n", 200, false, true},
		{0, "/f?x=1", "User-Agent: a\r\nuser-agent: b\r\n", "", "X-A: 1\r\n", 200, false, true},
		{0, "/f?x=1", "User-Agent:\r\n", "", "X-A: 1\r\n", 200, false, true},
		{2, "http://abs.test/a%20b?q=%zz", "", "", "", 200, true, true},
		{0, "*", "", "", "", 200, false, true},
		{0, "//x/../y", "", "", "", 200, false, true},
		{0, "/f?x=1", "Via: 1.1 a\r\nForwarded: for=x\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n", "", "Via: 1.1 o\r\n", 200, true, true},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.client, s.body, s.origin, s.status, s.trusted, s.http)
	}
	ans := &plFuzzAnswer{}
	plain := newPlFuzzPair(f, ans, "")
	trusted := newPlFuzzPair(f, ans, "  trusted_proxies: [127.0.0.1]\n  request_id: {backend_header: X-Request-Id, client_header: X-Request-Id}\n")
	f.Fuzz(func(t *testing.T, method byte, target, client, body, origin string, status uint16, trust, http11 bool) {
		if len(client) > 2000 || len(origin) > 2000 || len(body) > 4096 || len(target) > 1000 {
			return
		}
		// A line end in the target would start a head of its own.
		target = strings.NewReplacer("\r", "", "\n", "").Replace(target)
		m := plFuzzMethods[int(method)%len(plFuzzMethods)]
		version := "HTTP/1.1"
		if !http11 {
			version = "HTTP/1.0"
		}
		req := m + " " + target + " " + version + "\r\nHost: gw.test\r\n" + plFuzzLines(client)
		if body != "" {
			req += fmt.Sprintf("Content-Length: %d\r\n", len(body))
		}
		req += "\r\n" + body
		code := 200 + int(status)%400
		answer := fmt.Sprintf("HTTP/1.1 %d X\r\n%s", code, plFuzzLines(origin))
		switch {
		case code == 204 || code == 304:
			answer += "\r\n"
		default:
			answer += "Content-Length: 5\r\n\r\nfuzzy"
		}
		ans.mu.Lock()
		ans.answer = answer
		ans.mu.Unlock()
		pair := plain
		if trust {
			pair = trusted
		}
		var ups, answers [2]string
		for i := range 2 {
			o := pair.origins[i]
			before := len(o.requests())
			as, closed := plExchange(t, pair.addrs[i], req, m)
			ids := []string{"Couper-Request-Id", "X-Request-Id"}
			answers[i] = strings.ReplaceAll(plAnswersText(as, closed, ids...), o.ln.Addr().String(), "<origin>")
			ups[i] = strings.ReplaceAll(plSeenAll(o.requests()[before:], ids...), o.ln.Addr().String(), "<origin>")
		}
		if ups[0] != ups[1] {
			t.Errorf("upstream requests differ\nclient sent %q\norigin answered %q\n--- plain lane:\n%s\n--- header-map path:\n%s", req, answer, ups[0], ups[1])
		}
		if answers[0] != answers[1] {
			t.Errorf("client answers differ\nclient sent %q\norigin answered %q\n--- plain lane:\n%s\n--- header-map path:\n%s", req, answer, answers[0], answers[1])
		}
	})
}
