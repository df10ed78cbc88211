package redact

import (
	"bytes"
	"log"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// net/http's Transport logs, with the standard logger, every byte a server
// writes on an idle keep-alive connection (a second answer to one request,
// say): ErrorText, which the daemon's standard logger applies, keeps the
// message and the header names, not a cookie's value or the body.
func TestErrorTextOfUnsolicitedResponseLog(t *testing.T) {
	var out syncBuffer
	defer log.SetOutput(log.Writer())
	log.SetOutput(&out)

	testutil.ProvokeUnsolicitedAnswer(t, "HTTP/1.1 200 OK\r\nSet-Cookie: sid=SECRET-1\r\nX-Served-By: visible\r\nContent-Length: 8\r\n\r\nSECRET-2")
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
