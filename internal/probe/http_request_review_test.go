package probe

import (
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// postHead is the head of a POST /health with a body of n bytes.
func postHead(n int) []string {
	return []string{
		"C: POST /health HTTP/1.1",
		"C: Host: 127.0.0.1:PORT",
		"C: User-Agent: backline-healthcheck",
		"C: Accept: */*",
		"C: Connection: close",
		"C: Content-Length: " + strconv.Itoa(n),
		"C: ",
	}
}

// assertNotShown fails when secret appears in the transcript or the error.
func assertNotShown(t *testing.T, res Result, secret string) {
	t.Helper()
	texts := append([]string(nil), res.Transcript...)
	if res.Err != nil {
		texts = append(texts, res.Err.Error())
	}
	for _, text := range texts {
		if strings.Contains(text, secret) {
			t.Errorf("request body (or its secret part %q) shown in %q", secret, text)
		}
	}
}

// Bug: the request body was never one of the session's secrets, so a
// server echoing it (or the credential in it) back in its reason phrase
// or a response header showed it in the transcript and in the check's
// error, which reaches logs, last_error in the status API, the status
// page and Lua's get_backend_servers_status.
func TestReviewHTTPBodyEchoIsWithheld(t *testing.T) {
	cases := []struct {
		name, body, secret string
		answer             []string
	}{
		{"whole body in the reason phrase", "probe-token-Zq8Wv3", "probe-token-Zq8Wv3",
			httpResponse("HTTP/1.1 400 rejected probe-token-Zq8Wv3", "")},
		{"whole body in a response header", "probe-token-Zq8Wv3", "probe-token-Zq8Wv3",
			httpResponse("HTTP/1.1 400 Bad Request", "", "X-Echo: probe-token-Zq8Wv3")},
		{"form password alone in the reason phrase", "user=probe&password=Hunter2Secret", "Hunter2Secret",
			httpResponse("HTTP/1.1 401 wrong password Hunter2Secret for probe", "")},
		{"JSON key alone in the reason phrase", `{"probe":1,"api_key":"K3yValue99"}`, "K3yValue99",
			httpResponse("HTTP/1.1 403 unknown key K3yValue99", "")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startHTTPWithBody(t, postHead(len(tc.body)), tc.body, tc.answer)
			res := deep(t, plainHTTPTarget(t, srv, &HTTPExpect{Method: "POST", Body: tc.body}))
			if res.OK {
				t.Fatal("check passed")
			}
			assertNotShown(t, res, tc.secret)
		})
	}
}

// Checked, fine: when the deadline cuts a line echoing the body short,
// net/http's error quotes it under header redaction, or gives the
// timeout alone; the body is not shown.
func TestReviewHTTPTimeoutQuoteWithholdsSecrets(t *testing.T) {
	const body = "probe-token-Zq8Wv3"
	for _, partial := range []string{
		"HTTP/1.1 200 OK\r\nX-Echo " + body,
		"HTTP/1.1 200 OK\r\nX-Echo: " + body,
		"HTTP/1.1 400 rejected " + body,
		"HTTP/1.1 200 OK\r\nX-Echo: 1\r\n " + body,
	} {
		t.Run(strconv.Quote(partial), func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			srv := startFake(t, func(c *fakeConn) {
				for _, l := range postHead(len(body)) {
					if !c.expect(replacePort(l, c.srv.port())[3:]) {
						return
					}
				}
				c.readRaw(len(body))
				// A line echoing the body, cut short: no CRLF follows.
				_, _ = c.conn.Write([]byte(partial))
				select {
				case <-release:
				case <-time.After(30 * time.Second):
				}
			})
			tg := plainHTTPTarget(t, srv, &HTTPExpect{Method: "POST", Body: body})
			tg.DeepTimeout = 300 * time.Millisecond
			res := deep(t, tg)
			if res.OK {
				t.Fatal("check passed")
			}
			assertNotShown(t, res, body)
		})
	}
}

// Bug: a 1xx interim answer (100 Continue, 103 Early Hints) was judged as
// the check's answer; RFC 9110 §15.2 has a client read past any number of
// them to the final one.
func TestReviewHTTPInterimAnswersSkipped(t *testing.T) {
	const body = "{}"
	t.Run("100 Continue then 200", func(t *testing.T) {
		answer := append([]string{"S: HTTP/1.1 100 Continue", "S: "}, httpResponse("HTTP/1.1 200 OK", "ok\r\n")...)
		srv := startHTTPWithBody(t, postHead(len(body)), body, answer)
		res := deep(t, plainHTTPTarget(t, srv, &HTTPExpect{Method: "POST", Body: body, Text: "ok"}))
		expectOK(t, res)
	})
	t.Run("two 103 Early Hints then a drain answer", func(t *testing.T) {
		request := []string{
			"C: GET /health HTTP/1.1",
			"C: Host: 127.0.0.1:PORT",
			"C: User-Agent: backline-healthcheck",
			"C: Accept: */*",
			"C: Connection: close",
			"C: ",
		}
		answer := append([]string{
			"S: HTTP/1.1 103 Early Hints", "S: Link: </a.css>; rel=preload", "S: ",
			"S: HTTP/1.1 103 Early Hints", "S: Link: </b.css>; rel=preload", "S: ",
		}, httpResponse("HTTP/1.1 404 Not Found", "")...)
		srv := startHTTP(t, false, request, answer)
		res := deep(t, plainHTTPTarget(t, srv, &HTTPExpect{DrainStatuses: []int{404}}))
		expectOK(t, res)
		if res.DrainStatus != 404 {
			t.Errorf("DrainStatus = %d, want 404", res.DrainStatus)
		}
	})
	t.Run("endless 1xx is bounded", func(t *testing.T) {
		request := []string{
			"C: GET /health HTTP/1.1",
			"C: Host: 127.0.0.1:PORT",
			"C: User-Agent: backline-healthcheck",
			"C: Accept: */*",
			"C: Connection: close",
			"C: ",
		}
		srv := startFake(t, func(c *fakeConn) {
			for _, l := range request {
				if !c.expect(replacePort(l, c.srv.port())[3:]) {
					return
				}
			}
			for range 100000 {
				if _, err := c.conn.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
					return
				}
			}
		})
		res := deep(t, plainHTTPTarget(t, srv, &HTTPExpect{}))
		if res.OK {
			t.Fatal("check passed on interim answers only")
		}
		if res.Reason != ReasonProtocol {
			t.Errorf("reason %q (err %v)", res.Reason, res.Err)
		}
	})
}

// A server may answer a POST before it read the body (and close): the
// check judges that answer; it does not fail on sending the body.
func TestReviewHTTPPostAnsweredBeforeBody(t *testing.T) {
	body := strings.Repeat("b", 16<<10)
	for i := range 20 {
		srv := startFake(t, func(c *fakeConn) {
			for _, l := range postHead(len(body)) {
				if !c.expect(replacePort(l, c.srv.port())[3:]) {
					return
				}
			}
			c.send("HTTP/1.1 404 Not Found")
			c.send("Content-Length: 0")
			c.send("Connection: close")
			c.send("")
			// Close with the body unread: the kernel answers it with a reset.
			if tc, ok := c.conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		})
		res := deep(t, plainHTTPTarget(t, srv, &HTTPExpect{Method: "POST", Body: body, DrainStatuses: []int{404}}))
		if !res.OK || res.DrainStatus != 404 {
			t.Fatalf("run %d: ok %v drain %d err %v", i, res.OK, res.DrainStatus, res.Err)
		}
	}
}

// resetAfterAnswerConn is a connection whose server answered and reset
// before the client's write went out: every write fails, the answer is
// there to read.
type resetAfterAnswerConn struct {
	net.Conn // nil: only the methods below are used
	answer   *strings.Reader
}

func (c *resetAfterAnswerConn) Read(p []byte) (int, error) {
	if c.answer.Len() == 0 {
		return 0, syscall.ECONNRESET
	}
	return c.answer.Read(p)
}
func (c *resetAfterAnswerConn) Write([]byte) (int, error)        { return 0, syscall.ECONNRESET }
func (c *resetAfterAnswerConn) SetDeadline(time.Time) error      { return nil }
func (c *resetAfterAnswerConn) SetReadDeadline(time.Time) error  { return nil }
func (c *resetAfterAnswerConn) SetWriteDeadline(time.Time) error { return nil }

// The write fails with a reset, but the answer came first: it is judged.
// Without an answer the write's error is the cause.
func TestReviewHTTPWriteResetAfterAnswer(t *testing.T) {
	tg := &Target{Name: "web", Protocol: "http", Host: "127.0.0.1", Port: 80, DeepCheck: true,
		DeepTimeout: 10 * time.Second, HTTP: &HTTPExpect{Path: "/health", Method: "POST", Body: "a=1", DrainStatuses: []int{404}}}
	run := func(answer string) (Result, error) {
		res := Result{}
		s := newSession(&resetAfterAnswerConn{answer: strings.NewReader(answer)}, tg, &res, Options{Transcript: true})
		return res, checkHTTP(s)
	}
	res, err := run("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	if err != nil || res.DrainStatus != 404 {
		t.Errorf("answered before the reset: err %v, drain %d", err, res.DrainStatus)
	}
	_, err = run("")
	if err == nil || !strings.Contains(err.Error(), "sending the HTTP request") || !strings.Contains(err.Error(), "reset") {
		t.Errorf("no answer: err %v (%s)", err, Classify(err))
	}
}

// Bug: without a body, a Content-Length or Transfer-Encoding from
// beta_health's headers (refused there only with a body) went out as
// written: the request announced a body that never came, and the server
// waited for it until the check timed out. The check owns the framing
// with a body or without.
func TestReviewHTTPFramingHeadersWithoutBody(t *testing.T) {
	request := []string{
		"C: GET /health HTTP/1.1",
		"C: Host: 127.0.0.1:PORT",
		"C: User-Agent: backline-healthcheck",
		"C: Accept: */*",
		"C: Connection: close",
		"C: ",
	}
	srv := startHTTP(t, false, request, httpResponse("HTTP/1.1 200 OK", ""))
	res := deep(t, plainHTTPTarget(t, srv, &HTTPExpect{
		Headers: map[string]string{"Content-Length": "5", "transfer-encoding": "chunked"}}))
	expectOK(t, res)
}
