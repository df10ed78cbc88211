package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// rawTokenEndpoint reads one request off the wire as it came and answers
// with reply; the bytes go to got.
func rawTokenEndpoint(t *testing.T, reply string) (addr string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var head strings.Builder
		length := 0
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				ch <- head.String()
				return
			}
			head.WriteString(line)
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.EqualFold(k, "Content-Length") {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
			if line == "\r\n" {
				break
			}
		}
		body := make([]byte, length)
		_, _ = io.ReadFull(br, body)
		ch <- head.String() + string(body)
		_, _ = io.WriteString(c, reply)
	}()
	return ln.Addr().String(), ch
}

// TestOAuth2TokenRequestOnTheWire pins the exact bytes of a token request:
// nothing of the client request (its X-Forwarded-For, cookies) and no
// User-Agent goes with it.
func TestOAuth2TokenRequestOnTheWire(t *testing.T) {
	body := `{"access_token":"wire-token","token_type":"bearer","expires_in":60}`
	addr, got := rawTokenEndpoint(t, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\nConnection: close\r\n\r\n"+body)
	o := newFakeServer(t, bearerOrigin())
	h := newHarness(t, oauthYAML(o.URL, "        grant_type: client_credentials\n        token_endpoint: http://"+addr+"/oauth/token?tenant=a\n        client_id: cid\n        client_secret: csec\n        scope: api\n"))
	resp, out := h.do(http.MethodGet, "/x", nil, map[string]string{"X-Forwarded-For": "10.9.9.9", "Cookie": "c=1"})
	if resp.StatusCode != 200 || out != "auth=Bearer wire-token body=" {
		t.Fatalf("status %d body %q logs %s", resp.StatusCode, out, h.logs)
	}
	form := "grant_type=client_credentials&scope=api"
	want := fmt.Sprintf("POST /oauth/token?tenant=a HTTP/1.1\r\n"+
		"Host: %s\r\n"+
		"Content-Length: %d\r\n"+
		"Accept: application/json\r\n"+
		"Authorization: Basic Y2lkOmNzZWM=\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\n"+
		"\r\n%s", addr, len(form), form)
	if g := <-got; g != want {
		t.Fatalf("token request on the wire:\n%q\nwant\n%q", g, want)
	}
}

// TestOAuth2HeldBodyBrokenFramingIsClientError: a body read up front for
// a replay that breaks its chunked framing is the client's fault (400),
// and nothing is sent.
func TestOAuth2HeldBodyBrokenFramingIsClientError(t *testing.T) {
	idp := newFakeServer(t, tokenJSON(""))
	o := newFakeServer(t, bearerOrigin())
	h := newHarness(t, oauthYAML(o.URL, "        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: sec\n"))
	for name, chunks := range map[string]string{
		"not hex":               "zz\r\nhello\r\n0\r\n\r\n",
		"data longer than size": "2\r\nhello\r\n0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			a := rawRequest(t, h, "POST /x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"+chunks)
			expectError(t, a.resp, a.body, 400, "client_request")
		})
	}
	if n := len(o.requests()); n != 0 {
		t.Fatalf("origin got %d requests", n)
	}
	if n := h.gw.backends["api"].inFlight.Load(); n != 0 {
		t.Fatalf("%d in flight", n)
	}
}

// TestOAuth2HeldBodyStalledUploadTimesOut: reading a body to hold it is
// bounded by the backend's timeout, like streaming it.
func TestOAuth2HeldBodyStalledUploadTimesOut(t *testing.T) {
	idp := newFakeServer(t, tokenJSON(""))
	o := newFakeServer(t, bearerOrigin())
	h := newHarness(t, gatewayYAML(o.URL, "      timeout: 300ms\n      oauth2:\n        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: id\n        client_secret: sec\n", oauthEndpoint))
	a := rawRequest(t, h, "POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\n\r\nab")
	expectError(t, a.resp, a.body, 504, "backend_timeout")
	if n := len(o.requests()); n != 0 {
		t.Fatalf("origin got %d requests", n)
	}
}
