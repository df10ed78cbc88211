package probe

import (
	"strconv"
	"strings"
	"testing"
)

const basicHeader = "Authorization: Basic aGVhbHRoY2hlY2stdXNlcjpoZWFsdGhjaGVjay1wYXNzd29yZA=="

func httpResponse(statusLine string, body string, extra ...string) []string {
	steps := []string{"S: " + statusLine}
	for _, h := range extra {
		steps = append(steps, "S: "+h)
	}
	steps = append(steps, "S: Content-Length: "+strconv.Itoa(len(body)), "S: Connection: close", "S: ")
	if body != "" {
		steps = append(steps, "S: "+body[:len(body)-2]) // body ends in CRLF, which send adds
	}
	return append(steps, "-- close")
}

// httpRequest is the exact request the probe must send over TLS with credentials.
func httpsRequest(path string) []string {
	return []string{
		"C: GET " + path + " HTTP/1.1",
		"C: Host: 127.0.0.1:PORT",
		"C: " + basicHeader,
		"C: User-Agent: backline-healthcheck",
		"C: Accept: */*",
		"C: Connection: close",
		"C: ",
	}
}

// startHTTP plays request then response; PORT in request lines is the
// server's port.
func startHTTP(t *testing.T, implicitTLS bool, request, response []string) *fakeServer {
	return startFake(t, func(c *fakeConn) {
		steps := []string{}
		if implicitTLS {
			steps = append(steps, "-- TLS")
		}
		for _, l := range request {
			steps = append(steps, replacePort(l, c.srv.port()))
		}
		script(append(steps, response...)...)(c)
	})
}

func replacePort(line string, port int) string {
	return strings.Replace(line, "PORT", strconv.Itoa(port), 1)
}

func TestHTTPBasicOverTLS(t *testing.T) {
	srv := startHTTP(t, true, httpsRequest("/healthz"), httpResponse("HTTP/1.1 200 OK", "ok\r\n", "Server: nginx/1.22.1"))
	tg := newTarget(t, "http", srv, TLSImplicit)
	tg.RequestURI = "/healthz"
	res := deep(t, tg)
	expectOK(t, res)
	if res.Mechanism != "BASIC" || res.CertNotAfter.IsZero() {
		t.Errorf("mechanism %q, cert expiry %v", res.Mechanism, res.CertNotAfter)
	}
	expectStepNames(t, res, "connect", "tls", "request")
}

func TestHTTPStatusRule(t *testing.T) {
	cases := []struct {
		status   string
		reason   Reason
		contains string
	}{
		{"HTTP/1.1 401 Unauthorized", ReasonAuth, "HTTP request failed: HTTP/1.1 401 Unauthorized"},
		{"HTTP/1.1 503 Service Temporarily Unavailable", ReasonProtocol, "HTTP request failed: HTTP/1.1 503 Service Temporarily Unavailable"},
		{"HTTP/1.1 204 No Content", ReasonProtocol, "HTTP request failed: HTTP/1.1 204 No Content"},
		{"HTTP/1.1 301 Moved Permanently", ReasonProtocol, "HTTP request failed: HTTP/1.1 301 Moved Permanently"},
	}
	for _, tc := range cases {
		t.Run(tc.status, func(t *testing.T) {
			srv := startHTTP(t, true, httpsRequest("/"), httpResponse(tc.status, ""))
			expectFail(t, deep(t, newTarget(t, "http", srv, TLSImplicit)), tc.reason, tc.contains)
		})
	}
}

func TestHTTPWithoutCredentials(t *testing.T) {
	request := []string{
		"C: GET /public HTTP/1.1",
		"C: Host: 127.0.0.1:PORT",
		"C: User-Agent: backline-healthcheck",
		"C: Accept: */*",
		"C: Connection: close",
		"C: ",
	}
	t.Run("200", func(t *testing.T) {
		srv := startHTTP(t, false, request, httpResponse("HTTP/1.1 200 OK", "ok\r\n"))
		tg := newTarget(t, "http", srv, TLSPlain)
		tg.Username, tg.Password, tg.RequestURI = "", "", "/public"
		res := deep(t, tg)
		expectOK(t, res)
		if res.Mechanism != "" {
			t.Errorf("mechanism %q", res.Mechanism)
		}
	})
	t.Run("401 is a protocol failure", func(t *testing.T) {
		srv := startHTTP(t, false, request, httpResponse("HTTP/1.1 401 Unauthorized", "", `WWW-Authenticate: Basic realm="harness"`))
		tg := newTarget(t, "http", srv, TLSPlain)
		tg.Username, tg.Password, tg.RequestURI = "", "", "/public"
		expectFail(t, deep(t, tg), ReasonProtocol, "HTTP request failed: HTTP/1.1 401 Unauthorized")
	})
}

func TestHTTPCredentialsNeedTLS(t *testing.T) {
	srv := startFake(t, script())
	res := deep(t, newTarget(t, "http", srv, TLSPlain))
	expectFail(t, res, ReasonConfig, "refusing to send credentials")
	srv.wait()
	if got := srv.received(); len(got) != 0 {
		t.Errorf("server received %q", got)
	}
}

func TestHTTPOnlyBasic(t *testing.T) {
	srv := startFake(t, script("-- TLS"))
	tg := newTarget(t, "http", srv, TLSImplicit)
	tg.Mechanism = "PLAIN"
	expectFail(t, deep(t, tg), ReasonConfig, "configured=PLAIN advertised=BASIC")
}

func TestHTTPStartTLSIsAConfigError(t *testing.T) {
	srv := startFake(t, script())
	expectFail(t, deep(t, newTarget(t, "http", srv, TLSStartTLS)), ReasonConfig, "http has no STARTTLS")
}

func TestHTTPExpect(t *testing.T) {
	request := []string{
		"C: GET /gsund HTTP/1.1",
		"C: Host: 127.0.0.1:PORT",
		"C: User-Agent: couper-probe",
		"C: Accept: */*",
		"C: Connection: close",
		"C: X-Probe: 1",
		"C: ",
	}
	expect := func() *HTTPExpect {
		return &HTTPExpect{Path: "/gsund", Headers: map[string]string{"user-agent": "couper-probe", "X-Probe": "1"}}
	}
	run := func(t *testing.T, e *HTTPExpect, response []string) Result {
		srv := startHTTP(t, true, request, response)
		tg := newTarget(t, "http", srv, TLSPlain)
		tg.Username, tg.Password = "", ""
		e.HTTPS = true
		tg.HTTP = e
		return deep(t, tg)
	}
	t.Run("204 passes by default", func(t *testing.T) {
		e := expect()
		expectOK(t, run(t, e, httpResponse("HTTP/1.1 204 No Content", "")))
	})
	t.Run("listed status", func(t *testing.T) {
		e := expect()
		e.Statuses = []int{503}
		expectOK(t, run(t, e, httpResponse("HTTP/1.1 503 Service Unavailable", "")))
	})
	t.Run("status not listed", func(t *testing.T) {
		e := expect()
		e.Statuses = []int{200}
		expectFail(t, run(t, e, httpResponse("HTTP/1.1 204 No Content", "")), ReasonProtocol, "HTTP request failed: HTTP/1.1 204 No Content")
	})
	t.Run("text found", func(t *testing.T) {
		e := expect()
		e.Text = "healthy"
		expectOK(t, run(t, e, httpResponse("HTTP/1.1 200 OK", "all healthy\r\n")))
	})
	t.Run("text missing", func(t *testing.T) {
		e := expect()
		e.Text = "healthy"
		expectFail(t, run(t, e, httpResponse("HTTP/1.1 200 OK", "broken\r\n")), ReasonProtocol, `does not contain "healthy"`)
	})
}

func TestHTTPHostHeader(t *testing.T) {
	cases := []struct {
		host string
		port int
		tls  bool
		want string
	}{
		{"example.org.", 80, false, "example.org"},
		{"example.org", 443, true, "example.org"},
		{"example.org", 443, false, "example.org:443"},
		{"::1", 8080, false, "[::1]:8080"},
		{"[::1]", 80, false, "[::1]"},
	}
	for _, tc := range cases {
		if got := hostHeaderFor(tc.host, tc.port, tc.tls); got != tc.want {
			t.Errorf("host header for %s:%d tls=%v = %q, want %q", tc.host, tc.port, tc.tls, got, tc.want)
		}
	}
}
