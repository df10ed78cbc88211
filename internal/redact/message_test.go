package redact

import (
	"bytes"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// net/http's Transport logs, with the standard logger, every byte a server
// writes on an idle keep-alive connection (a second answer to one request,
// say): ErrorText, which the daemon's standard logger applies, keeps the
// message and the header names, not a cookie's value or the body.
func TestErrorTextOfUnsolicitedResponseLog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	second := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		_, _ = c.Read(buf)
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		<-second
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nSet-Cookie: sid=SECRET-1\r\nX-Served-By: visible\r\nContent-Length: 8\r\n\r\nSECRET-2"))
		_, _ = io.Copy(io.Discard, c)
	}()
	var out syncBuffer
	defer log.SetOutput(log.Writer())
	log.SetOutput(&out)

	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	close(second)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Unsolicited") {
		if time.Now().After(deadline) {
			t.Fatal("net/http logged nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := ErrorText(out.String())
	if strings.Contains(got, "SECRET") {
		t.Errorf("ErrorText kept a secret: %s", got)
	}
	for _, want := range []string{"Unsolicited response", `HTTP/1.1 200 OK\r\nSet-Cookie: <redacted>\r\nX-Served-By: visible`} {
		if !strings.Contains(got, want) {
			t.Errorf("ErrorText lost %q: %s", want, got)
		}
	}
}

func TestMessage(t *testing.T) {
	for raw, want := range map[string]string{
		"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\n\r\nbody": "HTTP/1.1 200 OK\r\nSet-Cookie: " + Placeholder + "\r\n\r\n" + Placeholder,
		"HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n":      "HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nAuthorization: cut sho":      "HTTP/1.1 200 OK\r\nAuthorization: " + Placeholder,
	} {
		if got := message(raw); got != want {
			t.Errorf("message(%q) = %q, want %q", raw, got, want)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
