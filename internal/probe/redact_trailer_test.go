package probe

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testutil"
)

// rawHTTPServer answers each connection with response after the request head.
func rawHTTPServer(t *testing.T, response string) int {
	_, port, _ := net.SplitHostPort(testutil.ServeCannedHTTP(t, response))
	n, _ := strconv.Atoi(port)
	return n
}

// A chunked answer's trailer is a header block too: net/http quotes a
// malformed trailer line in the body read's error, which becomes the
// check's error (status API, logs, ctl). A credential's value there is
// withheld like one in the head.
func TestHTTPBodyErrorNeverQuotesTrailerSecrets(t *testing.T) {
	for _, line := range []string{
		"Set-Cookie: sid=SECRET\x01",
		"X-Auth-Token: SECRET\x00",
	} {
		port := rawHTTPServer(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"+line+"\r\n\r\n")
		tg, err := NewTarget(&config.Target{Protocol: "http", Host: "127.0.0.1", Port: port, DeepCheck: true,
			RequestURI: "/healthz", ExpectedText: "ok"})
		if err != nil {
			t.Fatal(err)
		}
		res := deep(t, tg)
		if res.OK || res.Err == nil {
			t.Fatalf("%q: check passed", line)
		}
		if strings.Contains(res.Err.Error(), "SECRET") {
			t.Errorf("%q: the error shows the secret: %v", line, res.Err)
		}
		if !strings.Contains(res.Err.Error(), "malformed MIME header") {
			t.Errorf("%q: the error lost the reason: %v", line, res.Err)
		}
	}
}

// A header line cut off by deep_timeout reaches net/http whole as far as
// it came (bufio drops the deadline error for a partial line) and is
// quoted as malformed; the timeout branch reports that error too, with a
// credential's value withheld like everywhere else.
func TestHTTPTimeoutErrorNeverQuotesHeaderSecrets(t *testing.T) {
	for _, partial := range []string{
		"Set-Cookie sid=SECRET",
		"Set-Cookie: sid=SECRET\x01",
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\n" + partial))
			<-done // the rest never comes
		}()
		tg, err := NewTarget(&config.Target{Protocol: "http", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port,
			DeepCheck: true, RequestURI: "/healthz"})
		if err != nil {
			t.Fatal(err)
		}
		tg.DeepTimeout = 300 * time.Millisecond
		res := deep(t, tg)
		close(done)
		ln.Close()
		if res.OK || res.Err == nil {
			t.Fatalf("%q: check passed", partial)
		}
		if strings.Contains(res.Err.Error(), "SECRET") {
			t.Errorf("%q: the error shows the secret: %v", partial, res.Err)
		}
	}
}
