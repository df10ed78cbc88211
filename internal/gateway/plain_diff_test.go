package gateway

import (
	"fmt"
	"strings"
	"testing"
)

// The plain lane (plain.go) against the header-map path: the same client
// bytes through two gateways that differ only in plainLaneOff, each in
// front of its own origins that behave alike, must reach the origins as
// the same requests (start line and the multiset of fields; order and
// name case may differ by design) and give the client the same answers
// (status, fields less Date, body, whether the connection closed).

// plDiffCase is one client exchange and the setting it runs in.
type plDiffCase struct {
	name    string
	backend string // backend attributes, six spaces in
	gateway string // gateway attributes, two spaces in
	// endpoint replaces the default "/**" proxy endpoint (four spaces in).
	endpoint string
	origins  int // 0 or 1: origin; more: an origins list
	// viaProxy: the origin is http://upstream.test, reached through the
	// recording origin as the backend's forward proxy.
	viaProxy bool
	// noUpstream: the gateway answers itself (a refused request).
	noUpstream bool
	// answer is origin which's answer to its request n; nil: plOK.
	answer  func(s plSeen, n, which int) string
	request string   // raw client bytes
	methods []string // the method of each answer expected; nil: one GET
	idNames []string // request id fields to mask besides Couper-Request-Id and X-Request-Id
}

const plOK = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

func plAnswerWith(fields string, body string) func(plSeen, int, int) string {
	return func(plSeen, int, int) string {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s", fields, len(body), body)
	}
}

func (c plDiffCase) yml(urls []string) string {
	var b strings.Builder
	b.WriteString("definitions:\n  backends:\n    api:\n")
	if c.viaProxy {
		fmt.Fprintf(&b, "      origin: http://upstream.test\n      proxy: %s\n", urls[0])
	} else if len(urls) == 1 {
		fmt.Fprintf(&b, "      origin: %s\n", urls[0])
	} else {
		b.WriteString("      origins:\n")
		for _, u := range urls {
			fmt.Fprintf(&b, "        - %s\n", u)
		}
	}
	b.WriteString(c.backend)
	b.WriteString("gateway:\n  address: 127.0.0.1:18999\n")
	b.WriteString(c.gateway)
	b.WriteString("  endpoints:\n")
	if c.endpoint != "" {
		b.WriteString(c.endpoint)
	} else {
		b.WriteString("    - path: /**\n      proxy:\n        backend: api\n")
	}
	return b.String()
}

// plRun sends c through a gateway with the lane on (off false) or off,
// in front of fresh origins; it returns what the origins saw and what the
// client got, as text to compare.
func plRun(t *testing.T, c plDiffCase, off bool) (upstream, answers string) {
	t.Helper()
	n := max(c.origins, 1)
	answer := c.answer
	if answer == nil {
		answer = func(plSeen, int, int) string { return plOK }
	}
	var origins []*plOrigin
	var urls []string
	for i := range n {
		o := newPlOrigin(t, func(s plSeen, k int) string { return answer(s, k, i) })
		origins = append(origins, o)
		urls = append(urls, o.url())
	}
	addr, _ := plHarness(t, c.yml(urls), off)
	methods := c.methods
	if methods == nil {
		methods = []string{"GET"}
	}
	as, closed := plExchange(t, addr, c.request, methods...)
	ids := append([]string{"Couper-Request-Id", "X-Request-Id", "X-Forwarded-For"}, c.idNames...)
	var up strings.Builder
	for i, o := range origins {
		fmt.Fprintf(&up, "=== origin %d\n%s", i, plSeenAll(o.requests(), ids...))
	}
	upstream, answers = up.String(), plAnswersText(as, closed, ids...)
	// The two runs' origins listen on ports of their own.
	for i, o := range origins {
		host := o.ln.Addr().String()
		upstream = strings.ReplaceAll(upstream, host, fmt.Sprintf("<origin %d>", i))
		answers = strings.ReplaceAll(answers, host, fmt.Sprintf("<origin %d>", i))
	}
	return upstream, answers
}

func plCompare(t *testing.T, c plDiffCase) {
	t.Helper()
	upOn, ansOn := plRun(t, c, false)
	upOff, ansOff := plRun(t, c, true)
	if reached := strings.Contains(upOn, "--- upstream 0"); reached == c.noUpstream {
		t.Errorf("the origin saw a request: %v, want %v\n%s\n%s", reached, !c.noUpstream, upOn, ansOn)
	}
	if testing.Verbose() {
		t.Logf("plain lane:\n%s\n%s", upOn, ansOn)
	}
	if upOn != upOff {
		t.Errorf("upstream requests differ\nclient sent:\n%q\n--- plain lane:\n%s\n--- header-map path:\n%s", c.request, upOn, upOff)
	}
	if ansOn != ansOff {
		t.Errorf("client answers differ\nclient sent:\n%q\n--- plain lane:\n%s\n--- header-map path:\n%s", c.request, ansOn, ansOff)
	}
}

func plGet(fields string) string {
	return "GET /p HTTP/1.1\r\nHost: gw.test\r\n" + fields + "\r\n"
}

// TestPlainLaneDiffRequests: client requests of many shapes.
func TestPlainLaneDiffRequests(t *testing.T) {
	trusted := "  trusted_proxies: [127.0.0.1]\n"
	cases := []plDiffCase{
		{name: "simple", request: plGet("")},
		{name: "odd name case", request: plGet("x-FOO: a\r\nX-foo: b\r\nACCEPT: */*\r\naccept-LANGUAGE: de\r\n")},
		{name: "duplicates", request: plGet("Accept: a\r\nAccept: b\r\nCache-Control: no-cache\r\nCache-Control: max-age=0\r\nX-A: 1\r\nx-a: 2\r\n")},
		{name: "connection close", request: plGet("Connection: close\r\nX-A: 1\r\n")},
		{name: "connection keep-alive", request: plGet("Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n")},
		{name: "connection keep-alive close and a Close field", request: plGet("Connection: Keep-Alive, close\r\nClose: x\r\nKeep-Alive: 1\r\n")},
		{name: "Close field without close named", request: plGet("Connection: keep-alive\r\nClose: x\r\n")},
		{name: "two connection fields", request: plGet("Connection: keep-alive\r\nconnection: CLOSE\r\nClose: y\r\n")},
		{name: "connection naming a field", request: plGet("Connection: X-Private\r\nX-Private: p\r\nX-Public: q\r\n")},
		{name: "hop by hop fields", request: plGet("Te: trailers\r\nTrailer: X-T\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\nProxy-Authenticate: x\r\nKeep-Alive: 3\r\n")},
		{name: "forwarded from untrusted", request: plGet("X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\nForwarded: for=1.2.3.4\r\n")},
		{name: "forwarded from trusted", gateway: trusted, request: plGet("X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: real.test:8443\r\n")},
		{name: "forwarded lists from trusted", gateway: "  trusted_proxies: [127.0.0.1, 10.0.0.0/8]\n", request: plGet("X-Forwarded-For: 203.0.113.7, 10.1.1.1\r\nX-Forwarded-For: 10.2.2.2\r\nX-Forwarded-Proto: http, https\r\nx-forwarded-proto: https\r\nX-Forwarded-Host: a.test, b.test\r\n")},
		{name: "bad forwarded host from trusted", gateway: trusted, request: plGet("X-Forwarded-Host: bad host/\r\nX-Forwarded-Proto: gopher\r\n")},
		{name: "forwarded aliases untrusted", request: plGet("X_Forwarded_Proto: https\r\nx_forwarded_host: evil.test\r\nX-Forwarded_Proto: https\r\nX_Forwarded-Host: e\r\nX_Forwarded_For: 6.6.6.6\r\nX-Forwarded-Port: 443\r\n")},
		{name: "forwarded aliases trusted", gateway: trusted, request: plGet("X_Forwarded_Proto: https\r\nX-Forwarded-Proto: https\r\nx_forwarded_host: evil.test\r\n")},
		{name: "credentials", request: plGet("Authorization: Bearer secret\r\nCookie: a=1\r\ncookie: b=2\r\nauthorization: Basic eDp5\r\nX-Api-Key: k\r\n")},
		{name: "expect continue with body", methods: []string{"POST"}, request: "POST /p HTTP/1.1\r\nHost: gw.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"},
		{name: "expect continue without body", request: plGet("Expect: 100-continue\r\n")},
		{name: "post body", methods: []string{"POST"}, request: "POST /p?q=1 HTTP/1.1\r\nHost: gw.test\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"},
		{name: "post no body", methods: []string{"POST"}, request: "POST /p HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "post length zero", methods: []string{"POST"}, request: "POST /p HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\n\r\n"},
		{name: "put body", methods: []string{"PUT"}, request: "PUT /p HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "put length zero", methods: []string{"PUT"}, request: "PUT /p HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\n\r\n"},
		{name: "patch length zero", methods: []string{"PATCH"}, request: "PATCH /p HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\n\r\n"},
		{name: "delete body", methods: []string{"DELETE"}, request: "DELETE /p HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "delete no body", methods: []string{"DELETE"}, request: "DELETE /p HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "delete length zero", methods: []string{"DELETE"}, request: "DELETE /p HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\n\r\n"},
		{name: "get with body", request: "GET /p HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 4\r\n\r\nbody"},
		{name: "options", methods: []string{"OPTIONS"}, request: "OPTIONS /p HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "custom method", methods: []string{"PURGE"}, request: "PURGE /p HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 2\r\n\r\nxy"},
		{name: "duplicate equal content-length", methods: []string{"POST"}, request: "POST /p HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "http/1.0", request: "GET /p HTTP/1.0\r\nHost: gw.test\r\nX-A: 1\r\n\r\n"},
		{name: "http/1.0 no host", request: "GET /p HTTP/1.0\r\nX-A: 1\r\n\r\n"},
		{name: "http/1.0 keep-alive", methods: []string{"GET", "GET"}, request: "GET /p HTTP/1.0\r\nConnection: keep-alive\r\nHost: gw.test\r\n\r\nGET /q HTTP/1.0\r\nConnection: keep-alive\r\nHost: gw.test\r\nX-Second: 2\r\n\r\n"},
		{name: "http/1.0 post", methods: []string{"POST"}, request: "POST /p HTTP/1.0\r\nContent-Length: 2\r\n\r\nab"},
		{name: "absolute form", request: "GET http://abs.test:81/abs?x=1 HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "absolute form trusted", gateway: trusted, request: "GET http://abs.test/abs HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-Host: fwd.test\r\n\r\n"},
		{name: "query strings", request: "GET /p/a%20b/%2F?a=%20&b&c=d;e=f&&=x HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "empty query", request: "GET /p? HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "host with port and case", request: "GET / HTTP/1.1\r\nHOST: GW.Test:8080\r\n\r\n"},
		{name: "user-agent", request: plGet("User-Agent: probe/1\r\n")},
		{name: "user-agent twice", request: plGet("User-Agent: first/1\r\nUser-Agent: second/2\r\n")},
		{name: "user-agent empty", request: plGet("User-Agent:\r\n")},
		{name: "empty and tabbed values", request: plGet("X-Empty:\r\nX-Tab: a\tb\r\nX-Sp:   spaced   \r\n")},
		{name: "forged request id", request: plGet("Couper-Request-Id: forged\r\ncouper-request-id: forged2\r\n")},
		{name: "request id settings", gateway: "  request_id:\n    backend_header: X-Request-Id\n    client_header: X-Request-Id\n",
			idNames: []string{"X-Request-Id"}, request: plGet("x-request-id: forged\r\nCouper-Request-Id: passes\r\n")},
		{name: "request id accepted", gateway: "  request_id:\n    backend_header: X-Request-Id\n    client_header: \"\"\n    accept_from_header: X-Trace\n",
			request: plGet("X-Trace: edge-1\r\nx-request-id: forged\r\n")},
		{name: "request id off", gateway: "  request_id:\n    backend_header: \"\"\n", request: plGet("Couper-Request-Id: client\r\n")},
		{name: "request id underscore alias", gateway: "  request_id:\n    backend_header: X-Request-Id\n", request: plGet("X_Request_Id: alias\r\n")},
		{name: "backend path", backend: "      path: /fixed/path\n", request: "GET /p/q?x=1 HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "backend path_prefix", backend: "      path_prefix: /pre\n", request: "GET /p/q?x=1 HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "proxy url", endpoint: "    - path: /p/**\n      proxy:\n        backend: api\n        url: http://other.test/u/${request.path_params.splat}?k=v\n", request: "GET /p/one/two?x=1 HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "backend hostname", backend: "      hostname: named.test\n", request: plGet("")},
		{name: "backend hostname punycode", backend: "      hostname: bücher.test\n", request: plGet("X-A: 1\r\nAuthorization: x\r\n")},
		{name: "no connection reuse", backend: "      disable_connection_reuse: true\n", methods: []string{"GET", "GET"}, request: plGet("X-A: 1\r\n") + plGet("X-B: 2\r\n")},
		{name: "pipelined", methods: []string{"GET", "POST", "GET"},
			request: plGet("X-First: 1\r\nCookie: a=1\r\n") + "POST /two HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 3\r\nX-Second: 2\r\n\r\nabc" + plGet("X-Third: 3\r\n")},
		{name: "retries", origins: 3, backend: "      retry_on: [connect_failure, 503]\n      passive_health: {}\n",
			answer: func(_ plSeen, _, which int) string {
				if which == 0 {
					return "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nRetry-After: 1\r\n\r\nbusy"
				}
				return plOK
			},
			methods: []string{"GET", "GET", "DELETE"},
			request: plGet("X-Forwarded-For: 1.1.1.1\r\nX-A: 1\r\n") + plGet("Authorization: x\r\n") + "DELETE /d HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "retries trusted", origins: 2, gateway: trusted, backend: "      retry_on: [503]\n",
			answer: func(_ plSeen, _, which int) string {
				if which == 0 {
					return "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
				}
				return plOK
			},
			request: plGet("X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\n")},
		{name: "upgrade without websockets", request: plGet("Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n")},
		{name: "head", methods: []string{"HEAD"}, request: "HEAD /p HTTP/1.1\r\nHost: gw.test\r\nX-A: 1\r\n\r\n"},
		{name: "forward proxy", viaProxy: true, request: plGet("X-A: 1\r\nAuthorization: x\r\nX-Forwarded-Proto: https\r\nConnection: keep-alive\r\nUser-Agent: u\r\n")},
		{name: "forward proxy trusted retries", viaProxy: true, gateway: trusted, request: plGet("X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: f.test\r\nX_Forwarded_Proto: https\r\n")},
		{name: "connect", methods: []string{"CONNECT"}, request: "CONNECT upstream.test:443 HTTP/1.1\r\nHost: upstream.test:443\r\n\r\n"},
		{name: "options asterisk", noUpstream: true, methods: []string{"OPTIONS"}, request: "OPTIONS * HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "double slash and params", request: "GET //x/;p=1/%41?%zz HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "lower-case method", methods: []string{"get"}, request: "get /p HTTP/1.1\r\nHost: gw.test\r\n\r\n"},
		{name: "request id in X-Forwarded-For", gateway: "  request_id:\n    backend_header: X-Forwarded-For\n", request: plGet("X-Forwarded-For: 10.0.0.1\r\n")},
		{name: "request id in X-Forwarded-Host", gateway: "  request_id:\n    backend_header: X-Forwarded-Host\n", idNames: []string{"X-Forwarded-Host"}, request: plGet("")},
		{name: "request id in X-Forwarded-Proto", gateway: "  request_id:\n    backend_header: X-Forwarded-Proto\n", idNames: []string{"X-Forwarded-Proto"}, request: plGet("")},
		{name: "request id in User-Agent", gateway: "  request_id:\n    backend_header: User-Agent\n", idNames: []string{"User-Agent"}, request: plGet("User-Agent: ua\r\n")},
		{name: "request id accepted from the backend header", gateway: "  request_id:\n    backend_header: X-Request-Id\n    accept_from_header: X-Request-Id\n", request: plGet("X-Request-Id: edge-1\r\n")},
		{name: "request id accepted twice", gateway: "  request_id:\n    backend_header: X-Request-Id\n    accept_from_header: X-Request-Id\n", request: plGet("X-Request-Id: a\r\nx-request-id: b\r\n")},
		{name: "300 fields", request: plGet(strings.Repeat("X-Many: v\r\nx-other: w\r\nAuthorization: a\r\n", 100))},
		{name: "long values", request: plGet("X-Long: " + strings.Repeat("v", 16<<10) + "\r\nCookie: " + strings.Repeat("c", 8<<10) + "\r\n")},
		{name: "hostname from the request", backend: "      hostname: \"${request.headers.x-host}\"\n", request: plGet("X-Host: named.test:81\r\n")},
		{name: "hostname from the request with a space", backend: "      hostname: \"${request.headers.x-host}\"\n", request: plGet("X-Host: a b\r\n")},
		{name: "hostname from the request with a slash", backend: "      hostname: \"${request.headers.x-host}\"\n", request: plGet("X-Host: a.test/x?y\r\n")},
		{name: "hostname from the request unicode", backend: "      hostname: \"${request.headers.x-host}\"\n", request: plGet("X-Host: b\xc3\xbccher.test\r\n")},
		{name: "hostname from the request zone", backend: "      hostname: \"${request.headers.x-host}\"\n", request: plGet("X-Host: [fe80::1%25eth0]:80\r\n")},
		{name: "hostname from the request empty", backend: "      hostname: \"${request.headers.x-host}\"\n", request: plGet("")},
		{name: "via and misc", request: plGet("Via: 1.1 edge\r\nX-Real-Ip: 9.9.9.9\r\nMax-Forwards: 3\r\nIf-None-Match: \"x\"\r\nRange: bytes=0-1\r\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { plCompare(t, c) })
	}
}

// TestPlainLaneDiffAnswers: origin answers of many shapes to a plain GET.
func TestPlainLaneDiffAnswers(t *testing.T) {
	idClient := "  request_id:\n    client_header: X-Request-Id\n"
	cases := []plDiffCase{
		{name: "duplicates", answer: plAnswerWith("X-Dup: 1\r\nX-Dup: 2\r\nx-dup: 3\r\n", "d")},
		{name: "keep-alive", answer: plAnswerWith("Connection: keep-alive\r\nKeep-Alive: timeout=5, max=100\r\n", "k")},
		{name: "lower-case names", answer: plAnswerWith("content-type: text/html\r\nx-lower: y\r\nCONTENT-language: de\r\n", "<p>")},
		{name: "date present", answer: plAnswerWith("Date: Mon, 01 Jan 2001 00:00:00 GMT\r\n", "x")},
		{name: "two dates", answer: plAnswerWith("Date: Mon, 01 Jan 2001 00:00:00 GMT\r\ndate: Tue, 02 Jan 2001 00:00:00 GMT\r\n", "x")},
		{name: "request id from origin", answer: plAnswerWith("Couper-Request-Id: origin-chosen\r\n", "x")},
		{name: "request id from origin lower", answer: plAnswerWith("couper-request-id: origin-chosen\r\n", "x")},
		{name: "x-request-id from origin", gateway: idClient, idNames: []string{"X-Request-Id"}, answer: plAnswerWith("X-Request-Id: o1\r\nX-Request-Id: o2\r\n", "x")},
		{name: "client id off", gateway: "  request_id:\n    client_header: \"\"\n", answer: plAnswerWith("Couper-Request-Id: origin\r\n", "x")},
		{name: "set-cookie twice", answer: plAnswerWith("Set-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; HttpOnly\r\n", "x")},
		{name: "proxy-authenticate", answer: plAnswerWith("Proxy-Authenticate: Basic realm=x\r\nProxy-Authorization: y\r\nWWW-Authenticate: Bearer\r\n", "x")},
		{name: "upgrade in a 200", answer: plAnswerWith("Upgrade: h2c\r\nTe: trailers\r\nProxy-Connection: keep-alive\r\n", "x")},
		{name: "no content-type", answer: plAnswerWith("", "{\"a\":1}")},
		{name: "empty content-type", answer: plAnswerWith("Content-Type:\r\n", "x")},
		{name: "length zero", answer: plAnswerWith("X-A: 1\r\n", "")},
		{name: "created", answer: func(plSeen, int, int) string {
			return "HTTP/1.1 201 Created\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n"
		}},
		{name: "origin 500", answer: func(plSeen, int, int) string {
			return "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\n\r\nbad"
		}},
		{name: "odd reason and code", answer: func(plSeen, int, int) string {
			return "HTTP/1.1 299\r\nContent-Length: 1\r\n\r\nx"
		}},
		{name: "server and via", answer: plAnswerWith("Server: origin/1\r\nVia: 1.1 o\r\nAlt-Svc: clear\r\n", "x")},
		{name: "backline-error from origin", answer: plAnswerWith("Backline-Error: forged\r\n", "x")},
		{name: "early hints", answer: func(plSeen, int, int) string {
			return "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + plOK
		}},
		{name: "continue then answer", answer: func(plSeen, int, int) string {
			return "HTTP/1.1 100 Continue\r\n\r\n" + plOK
		}},
		{name: "connection naming a field", answer: plAnswerWith("Connection: keep-alive, X-Hop\r\nX-Hop: v\r\n", "x")},
		{name: "close field", answer: plAnswerWith("Connection: keep-alive\r\nClose: x\r\n", "x")},
		{name: "connection close", answer: plAnswerWith("Connection: close\r\n", "x")},
		{name: "many fields", answer: plAnswerWith(strings.Repeat("X-Many: v\r\n", 20)+"X-Other: o\r\n", "x")},
		{name: "padded values", answer: plAnswerWith("X-Sp: a \t\r\nX-Tab:\tb\r\n", "x")},
		{name: "content-length first", answer: func(plSeen, int, int) string {
			return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-After: 1\r\n\r\nabc"
		}},
		{name: "content-length with spaces", answer: func(plSeen, int, int) string {
			return "HTTP/1.1 200 OK\r\nContent-Length:  3 \r\n\r\nabc"
		}},
		{name: "no length", answer: func(plSeen, int, int) string {
			return "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close"
		}},
		{name: "chunked", answer: func(plSeen, int, int) string {
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		}},
		{name: "204 with length", answer: func(plSeen, int, int) string {
			return "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nX-A: 1\r\n\r\n"
		}},
		{name: "http/1.0 answer", answer: func(plSeen, int, int) string {
			return "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"
		}},
		{name: "to an http/1.0 client", request: "GET /p HTTP/1.0\r\nHost: gw.test\r\nConnection: keep-alive\r\n\r\n",
			answer: plAnswerWith("Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n", "x")},
		{name: "to a closing client", request: plGet("Connection: close\r\n"), answer: plAnswerWith("Connection: keep-alive\r\n", "x")},
		{name: "access log off and no client id", gateway: "  access_log: false\n  request_id:\n    client_header: \"\"\n",
			answer: plAnswerWith("Couper-Request-Id: o\r\nX-A: 1\r\n", "x")},
	}
	for _, c := range cases {
		if c.request == "" {
			c.request = plGet("")
		}
		t.Run(c.name, func(t *testing.T) { plCompare(t, c) })
	}
}
