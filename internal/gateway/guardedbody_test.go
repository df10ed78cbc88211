package gateway

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// An earlier attempt whose Read has begun but returned nothing yet (a
// writer goroutine of net/http's Transport blocked on a slow upload after
// the origin answered 503) keeps the body: it is not offered again, or
// the client's bytes would be split between two origins.
func TestGuardedBodyReadInProgressIsNotReoffered(t *testing.T) {
	pr, pw := io.Pipe()
	g := &guardedBody{ReadCloser: pr}
	g.first.g = g
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(&g.first)
		got <- string(b)
	}()
	for !g.started() { // the Read began; it blocks in the pipe
		runtime.Gosched()
	}
	if _, ok := g.next(); ok {
		t.Fatal("next() gave the body to a new attempt while a Read of the current one was blocked")
	}
	_, _ = io.WriteString(pw, "payload")
	pw.Close()
	if s := <-got; s != "payload" {
		t.Errorf("the attempt that kept the body read %q, want payload", s)
	}
}

// Once a new attempt has the body, an earlier attempt's Read (its writer
// started late) fails without consuming a byte.
func TestGuardedBodyStaleAttemptCannotRead(t *testing.T) {
	g := &guardedBody{ReadCloser: io.NopCloser(strings.NewReader("payload"))}
	g.first.g = g
	second, ok := g.next()
	if !ok {
		t.Fatal("next() refused an unread body")
	}
	if n, err := g.first.Read(make([]byte, 8)); n != 0 || !errors.Is(err, errBodyReoffered) {
		t.Errorf("stale attempt Read = %d, %v; want 0, errBodyReoffered", n, err)
	}
	b, err := io.ReadAll(second)
	if err != nil || string(b) != "payload" {
		t.Errorf("new attempt read %q, %v; want the whole body", b, err)
	}
	if _, ok := g.next(); ok {
		t.Error("next() offered a body the second attempt read")
	}
	if err := second.Close(); err != nil {
		t.Errorf("Close = %v; the client's body must stay open", err)
	}
}
