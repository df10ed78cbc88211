package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// h2cOrigin is an HTTP/2 cleartext origin, so that the gateway uses
// net/http's Transport, which writes the request body on a goroutine of
// its own and returns an early answer while that goroutine still reads.
func h2cOrigin(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	o := httptest.NewUnstartedServer(h)
	o.Config.Protocols = new(http.Protocols)
	o.Config.Protocols.SetUnencryptedHTTP2(true)
	o.Start()
	t.Cleanup(o.Close)
	return o.URL
}

// A PUT whose slow upload the first origin's writer is already waiting
// on when that origin answers 503 must not go to a second origin: the
// two writers would split the client's bytes between them.
func TestRetryOnSlowUploadNotSplitBetweenOrigins(t *testing.T) {
	gotHead := make(chan struct{})
	busy := h2cOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		close(gotHead)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	second := make(chan string, 1)
	secondHead := make(chan struct{})
	ok := h2cOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		close(secondHead)
		b, _ := io.ReadAll(r.Body)
		second <- string(b)
	})
	h := newHarness(t, originsYAML("      http2_prior_knowledge: true\n      load_balancing: round_robin\n      retry_on: [503]\n", busy, ok))
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		resp, _ := h.do("PUT", "/u", pr, map[string]string{"Content-Length": "7"})
		done <- resp.StatusCode
	}()
	<-gotHead
	// Upload only once the gateway has decided: the 503 passed to the
	// client (the body is then still unread), or the request retried.
	code := 0
	select {
	case code = <-done:
	case <-secondHead:
	}
	_, _ = io.WriteString(pw, "pay")
	_, _ = io.WriteString(pw, "load")
	pw.Close()
	if code == 0 {
		code = <-done
	}
	select {
	case b := <-second:
		if b != "payload" {
			t.Errorf("the second origin got %q of the body, want all of it or no request", b)
		}
	default:
		if code != http.StatusServiceUnavailable {
			t.Errorf("status %d, want the first origin's 503", code)
		}
	}
}

// A retry keeps the request's max_connections slot and its throttle
// start (balanceLayer runs inside both), so at max_connections: 1 it does
// not wait for a second slot (nor take a second start: per_period 3
// serves 3 requests of up to 3 attempts): the retried 503's connection is pooled or
// closed, and the next origin's dial makes room for itself.
func TestRetryOnAtOneConnection(t *testing.T) {
	long := strings.Repeat("x", 2*maxRetriedBody)
	tr := &transcript{}
	h := newHarness(t, originsYAML("      max_connections: 1\n      retries: 2\n      retry_on: [503]\n      beta_rate_limit:\n        period: 1m\n        per_period: 3\n        mode: block\n",
		tr.origin(t, "short", status503),
		tr.origin(t, "long", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, long)
		}),
		tr.origin(t, "ok", nil)))
	for i := range 3 {
		if resp, _ := h.do("GET", "/r", nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d, want 200 from the third origin", i, resp.StatusCode)
		}
	}
}
