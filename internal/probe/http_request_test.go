package probe

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// bodySecret stands for a credential in a check's request body.
const bodySecret = "client_secret=s3cr3t-body-value"

// startHTTPWithBody plays the request head, reads exactly len(body) bytes
// and compares them, then plays the response.
func startHTTPWithBody(t *testing.T, head []string, body string, response []string) *fakeServer {
	return startFake(t, func(c *fakeConn) {
		for _, l := range head {
			if !c.expect(replacePort(l, c.srv.port())[3:]) {
				return
			}
		}
		if got := string(c.readRaw(len(body))); got != body {
			c.srv.t.Errorf("fake server: body %q, want %q", got, body)
			return
		}
		script(response...)(c)
	})
}

func plainHTTPTarget(t *testing.T, srv *fakeServer, e *HTTPExpect) *Target {
	tg := newTarget(t, "http", srv, TLSPlain)
	tg.Username, tg.Password = "", ""
	e.Path = "/health"
	tg.HTTP = e
	return tg
}

func TestHTTPPostBodyTranscript(t *testing.T) {
	head := []string{
		"C: POST /health HTTP/1.1",
		"C: Host: 127.0.0.1:PORT",
		"C: User-Agent: backline-healthcheck",
		"C: Accept: */*",
		"C: Connection: close",
		"C: Content-Type: application/x-www-form-urlencoded",
		"C: Content-Length: 31",
		"C: ",
	}
	srv := startHTTPWithBody(t, head, bodySecret, httpResponse("HTTP/1.1 200 OK", "ok\r\n"))
	tg := plainHTTPTarget(t, srv, &HTTPExpect{Method: "POST", Body: bodySecret,
		Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	res := deep(t, tg)
	expectOK(t, res)
	want := []string{
		"-- connect 127.0.0.1:" + strconv.Itoa(srv.port()),
		"C: POST /health HTTP/1.1",
		"C: Host: 127.0.0.1:" + strconv.Itoa(srv.port()),
		"C: User-Agent: backline-healthcheck",
		"C: Accept: */*",
		"C: Connection: close",
		"C: Content-Type: application/x-www-form-urlencoded",
		"C: Content-Length: 31",
		"C: ",
		"C: <request body: 31 bytes>",
		"S: HTTP/1.1 200 OK",
		"S: Content-Length: 4", // net/http keeps Connection: close out of the header map
	}
	if !reflect.DeepEqual(res.Transcript, want) {
		t.Errorf("transcript:\n%s\nwant:\n%s", strings.Join(res.Transcript, "\n"), strings.Join(want, "\n"))
	}
	assertBodyHidden(t, res)
}

// A configured Content-Length or Transfer-Encoding (beta_health does not
// refuse them without a body) never goes out beside the check's own.
func TestHTTPBodyOwnsContentLength(t *testing.T) {
	head := []string{
		"C: OPTIONS /health HTTP/1.1",
		"C: Host: 127.0.0.1:PORT",
		"C: User-Agent: backline-healthcheck",
		"C: Accept: */*",
		"C: Connection: close",
		"C: Content-Length: 2",
		"C: ",
	}
	srv := startHTTPWithBody(t, head, "{}", httpResponse("HTTP/1.1 200 OK", ""))
	tg := plainHTTPTarget(t, srv, &HTTPExpect{Method: "OPTIONS", Body: "{}",
		Headers: map[string]string{"Content-Length": "999", "Transfer-Encoding": "chunked"}})
	expectOK(t, deep(t, tg))
}

// A HEAD answer's Content-Length announces a body that never comes: the
// check must not wait for it.
func TestHTTPHeadReadsNoBody(t *testing.T) {
	request := []string{
		"C: HEAD /health HTTP/1.1",
		"C: Host: 127.0.0.1:PORT",
		"C: User-Agent: backline-healthcheck",
		"C: Accept: */*",
		"C: Connection: close",
		"C: ",
	}
	response := []string{"S: HTTP/1.1 200 OK", "S: Content-Length: 5000", "S: "} // no close: a read would hang
	srv := startHTTP(t, false, request, response)
	tg := plainHTTPTarget(t, srv, &HTTPExpect{Method: "HEAD"})
	expectOK(t, deep(t, tg))
}

func TestHTTPDrainStatus(t *testing.T) {
	request := []string{
		"C: GET /health HTTP/1.1",
		"C: Host: 127.0.0.1:PORT",
		"C: User-Agent: backline-healthcheck",
		"C: Accept: */*",
		"C: Connection: close",
		"C: ",
	}
	run := func(t *testing.T, status string, text string) Result {
		srv := startHTTP(t, false, request, httpResponse(status, "not here\r\n"))
		return deep(t, plainHTTPTarget(t, srv, &HTTPExpect{Statuses: []int{200}, DrainStatuses: []int{404}, Text: text}))
	}
	t.Run("404 drains", func(t *testing.T) {
		res := run(t, "HTTP/1.1 404 Not Found", "healthy") // the text is not checked on a drain answer
		expectOK(t, res)
		if res.DrainStatus != 404 {
			t.Errorf("DrainStatus = %d, want 404", res.DrainStatus)
		}
	})
	t.Run("200 serves", func(t *testing.T) {
		res := run(t, "HTTP/1.1 200 OK", "")
		expectOK(t, res)
		if res.DrainStatus != 0 {
			t.Errorf("DrainStatus = %d, want 0", res.DrainStatus)
		}
	})
	t.Run("other status fails", func(t *testing.T) {
		res := run(t, "HTTP/1.1 503 Service Unavailable", "")
		expectFail(t, res, ReasonProtocol, "HTTP request failed: HTTP/1.1 503 Service Unavailable")
		if res.DrainStatus != 0 {
			t.Errorf("DrainStatus = %d on a failure", res.DrainStatus)
		}
	})
}

// Targets built without config's checks (Lua, tests) are refused before
// anything is sent, and no error shows the body.
func TestHTTPRequestRefused(t *testing.T) {
	long := strings.Repeat("a", config.MaxCheckRequestBody+1)
	cases := []struct {
		name string
		e    HTTPExpect
		want string
	}{
		{"method with CRLF", HTTPExpect{Method: "GET\r\nX-Injected: 1"}, `method "GET\r\nX-Injected: 1" is not GET, HEAD, POST or OPTIONS`},
		{"method with NUL", HTTPExpect{Method: "GE\x00T"}, `method "GE\x00T" is not`},
		{"method lower case", HTTPExpect{Method: "post"}, `method "post" is not`},
		{"DELETE", HTTPExpect{Method: "DELETE"}, `method "DELETE" is not`},
		{"oversized body", HTTPExpect{Method: "POST", Body: long}, "request body of 16385 bytes exceeds 16384"},
		{"body with GET", HTTPExpect{Body: bodySecret}, "request body (31 bytes) with method GET: a GET request carries no body (use POST or OPTIONS, or send no body)"},
		{"body with HEAD", HTTPExpect{Method: "HEAD", Body: bodySecret}, "with method HEAD"},
		{"text with HEAD", HTTPExpect{Method: "HEAD", Text: "ok"}, "a HEAD answer has no body (use GET, or expect no text)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startFake(t, script())
			e := tc.e
			res := deep(t, plainHTTPTarget(t, srv, &e))
			expectFail(t, res, ReasonConfig, tc.want)
			assertBodyHidden(t, res)
			srv.wait()
			if got := srv.received(); len(got) != 0 {
				t.Errorf("server received %q", got)
			}
		})
	}
}

func assertBodyHidden(t *testing.T, res Result) {
	t.Helper()
	texts := append([]string(nil), res.Transcript...)
	if res.Err != nil {
		texts = append(texts, res.Err.Error())
	}
	for _, text := range texts {
		if strings.Contains(text, "s3cr3t") {
			t.Errorf("request body leaked in %q", text)
		}
	}
}

func TestNewTargetCarriesCheckRequest(t *testing.T) {
	tg, err := NewTarget(&config.Target{Protocol: "http", Host: "h", Port: 80, DeepCheck: true,
		RequestMethod: "POST", RequestBody: "a=1", DrainOnStatus: []int{404}})
	if err != nil {
		t.Fatal(err)
	}
	if h := tg.HTTP; h.Method != "POST" || h.Body != "a=1" || !reflect.DeepEqual(h.DrainStatuses, []int{404}) {
		t.Errorf("HTTP = %+v", h)
	}
}
