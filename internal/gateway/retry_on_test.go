package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func status503(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, "busy")
}

// retriesByReason is backline_gateway_origin_retries_total per reason.
func retriesByReason(t *testing.T, h *harness) map[string]float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "backline_gateway_origin_retries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// connOrigin is an origin that reads one request head, logs it to tr and
// hands the connection to then; cleanup closes everything and waits.
func connOrigin(t *testing.T, tr *transcript, name string, then func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				tr.add(name + " " + req.Method + " " + req.URL.Path)
				then(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// closeSilently ends the connection without a byte of an answer.
func closeSilently(c net.Conn) {}

// partialThenWait sends the start of a status line, then waits for the
// gateway to give up.
func partialThenWait(c net.Conn) {
	_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n")
	_, _ = io.Copy(io.Discard, c)
}

func TestRetryOn503ThenOtherOrigin(t *testing.T) {
	tr := &transcript{}
	busy, ok := tr.origin(t, "busy", status503), tr.origin(t, "ok", nil)
	h := newHarness(t, originsYAML("      retry_on: [connect_failure, 503]\n", busy, ok))
	if codes := h.sendN(t, "GET", "/r1", "/r2"); !slices.Equal(codes, []int{200, 200}) {
		t.Fatalf("codes %v", codes)
	}
	resp, _ := h.do("DELETE", "/d", nil, nil) // idempotent too
	if resp.StatusCode != 200 {
		t.Errorf("DELETE: %d", resp.StatusCode)
	}
	wantTranscript(t, tr, "busy GET /r1", "ok GET /r1", "busy GET /r2", "ok GET /r2", "busy DELETE /d", "ok DELETE /d")
	if got := retriesByReason(t, h); got["503"] != 3 || len(got) != 1 {
		t.Errorf("retries by reason %v, want 503: 3", got)
	}
	// Without retry_on the 503 is the answer, as before.
	tr2 := &transcript{}
	h2 := newHarness(t, originsYAML("", tr2.origin(t, "busy", status503), tr2.origin(t, "ok", nil)))
	if codes := h2.sendN(t, "GET", "/r1", "/r2"); !slices.Equal(codes, []int{503, 200}) {
		t.Errorf("default retry_on: codes %v", codes)
	}
}

func TestRetryOnNeverRetriesPost(t *testing.T) {
	tr := &transcript{}
	busy := tr.origin(t, "busy", status503)
	reset := connOrigin(t, tr, "reset", closeSilently)
	ok := tr.origin(t, "ok", nil)
	h := newHarness(t, originsYAML("      retry_on: [connect_failure, reset, 503]\n", busy, ok))
	resp, _ := h.do("POST", "/p", strings.NewReader("payload"), nil)
	if resp.StatusCode != 503 {
		t.Errorf("POST with a body: %d, want the 503", resp.StatusCode)
	}
	h.do("GET", "/turn", nil, nil) // ok's turn: the next request starts at busy
	resp, _ = h.do("POST", "/empty", nil, nil)
	if resp.StatusCode != 503 {
		t.Errorf("POST without a body: %d, want the 503", resp.StatusCode)
	}
	hr := newHarness(t, originsYAML("      retry_on: [connect_failure, reset, 503]\n", reset, ok))
	resp, body := hr.do("PATCH", "/x", strings.NewReader("p"), nil)
	expectError(t, resp, body, 502, "backend")
	wantTranscript(t, tr, "busy POST /p payload", "ok GET /turn", "busy POST /empty", "reset PATCH /x")
}

// A PUT's body read by the first origin cannot be offered again.
func TestRetryOnBodyAlreadySent(t *testing.T) {
	tr := &transcript{}
	h := newHarness(t, originsYAML("      retry_on: [503]\n", tr.origin(t, "busy", status503), tr.origin(t, "ok", nil)))
	resp, _ := h.do("PUT", "/u", strings.NewReader("payload"), nil)
	if resp.StatusCode != 503 {
		t.Errorf("PUT with a body: %d, want the 503", resp.StatusCode)
	}
	wantTranscript(t, tr, "busy PUT /u payload")
}

func TestRetryOnBudget(t *testing.T) {
	tr := &transcript{}
	var origins []string
	for _, n := range []string{"a", "b", "c", "d"} {
		origins = append(origins, tr.origin(t, n, status503))
	}
	h := newHarness(t, originsYAML("      retries: 2\n      retry_on: [503]\n", origins...))
	resp, body := h.do("GET", "/x", nil, nil)
	if resp.StatusCode != 503 || body != "busy" {
		t.Errorf("after the budget: %d %q, want the last 503 with its body", resp.StatusCode, body)
	}
	if got := metricSum(t, h, "backline_gateway_origin_requests_total", "", ""); got != 3 {
		t.Errorf("attempts = %v, want 3 (one try and retries: 2)", got)
	}
	// Two origins, each tried once: the second 503 is the answer.
	tr2 := &transcript{}
	h2 := newHarness(t, originsYAML("      retries: 5\n      retry_on: [503]\n", tr2.origin(t, "a", status503), tr2.origin(t, "b", status503)))
	if resp, _ := h2.do("GET", "/y", nil, nil); resp.StatusCode != 503 {
		t.Errorf("two origins: %d", resp.StatusCode)
	}
	wantTranscript(t, tr2, "a GET /y", "b GET /y")
}

// countingOrigin counts the connections its server accepted.
func countingOrigin(t *testing.T, then http.HandlerFunc) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewUnstartedServer(then)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s.URL, &n
}

// A retried answer's short body is read and its connection reused; a long
// one's connection is closed rather than waited on. Either way nothing is
// left open (goleak at exit, and the origins' Close would hang).
func TestRetryOnDropsRetriedAnswer(t *testing.T) {
	short, shortConns := countingOrigin(t, status503)
	long, longConns := countingOrigin(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		chunk := strings.Repeat("x", 32<<10)
		for range 64 { // 2 MiB: more than any socket buffer holds
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	})
	tr := &transcript{}
	ok := tr.origin(t, "ok", nil)
	h := newHarness(t, originsYAML("      retry_on: [503]\n", short, ok))
	if codes := h.sendN(t, "GET", "/r1", "/r2", "/r3"); !slices.Equal(codes, []int{200, 200, 200}) {
		t.Fatalf("codes %v", codes)
	}
	if n := shortConns.Load(); n != 1 {
		t.Errorf("connections to the short 503 origin = %d, want 1 (reused)", n)
	}
	hl := newHarness(t, originsYAML("      retry_on: [503]\n", long, ok))
	if codes := hl.sendN(t, "GET", "/r1", "/r2"); !slices.Equal(codes, []int{200, 200}) {
		t.Fatalf("codes %v", codes)
	}
	if n := longConns.Load(); n != 2 {
		t.Errorf("connections to the long 503 origin = %d, want 2 (each closed)", n)
	}
}

func TestRetryOnReset(t *testing.T) {
	tr := &transcript{}
	reset, ok := connOrigin(t, tr, "reset", closeSilently), tr.origin(t, "ok", nil)
	h := newHarness(t, originsYAML("      retry_on: [reset]\n", reset, ok))
	if codes := h.sendN(t, "GET", "/r1", "/r2"); !slices.Equal(codes, []int{200, 200}) {
		t.Fatalf("codes %v", codes)
	}
	if got := retriesByReason(t, h); got["reset"] != 2 {
		t.Errorf("retries by reason %v, want reset: 2", got)
	}
	// Not listed: the reset is the answer.
	h2 := newHarness(t, originsYAML("      retry_on: [503]\n", reset, ok))
	resp, body := h2.do("GET", "/r3", nil, nil)
	expectError(t, resp, body, 502, "backend")
	wantTranscript(t, tr, "reset GET /r1", "ok GET /r1", "reset GET /r2", "ok GET /r2", "reset GET /r3")
}

// A timeout or reset after the origin sent a byte is never retried.
func TestRetryOnOnlyBeforeAnyByte(t *testing.T) {
	tr := &transcript{}
	partial, ok := connOrigin(t, tr, "partial", partialThenWait), tr.origin(t, "ok", nil)
	h := newHarness(t, originsYAML("      ttfb_timeout: 1s\n      retry_on: [reset, timeout]\n", partial, ok))
	resp, body := h.do("GET", "/x", nil, nil)
	expectError(t, resp, body, 504, "backend_timeout")
	cut := connOrigin(t, tr, "cut", func(c net.Conn) { _, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n") })
	h2 := newHarness(t, originsYAML("      retry_on: [reset, timeout]\n", cut, ok))
	resp, body = h2.do("GET", "/y", nil, nil)
	expectError(t, resp, body, 502, "backend")
	wantTranscript(t, tr, "partial GET /x", "cut GET /y")
	if got := retriesByReason(t, h); len(got) != 0 {
		t.Errorf("retries %v, want none", got)
	}
}

func TestRetryOnTimeout(t *testing.T) {
	tr := &transcript{}
	stop := make(chan struct{})
	slow := tr.origin(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	defer close(stop)
	ok := tr.origin(t, "ok", nil)
	// ttfb 1 s: the good origin's answer must come within it on a loaded
	// machine too.
	h := newHarness(t, originsYAML("      ttfb_timeout: 1s\n      retry_on: [timeout]\n", slow, ok))
	if resp, _ := h.do("GET", "/r1", nil, nil); resp.StatusCode != 200 {
		t.Errorf("GET: %d, want 200 from the second origin", resp.StatusCode)
	}
	if got := retriesByReason(t, h); got["timeout"] != 1 {
		t.Errorf("retries by reason %v, want timeout: 1", got)
	}
	resp, body := h.do("POST", "/p", nil, nil)
	expectError(t, resp, body, 504, "backend_timeout")
	wantTranscript(t, tr, "slow GET /r1", "ok GET /r1", "slow POST /p")
}

// Passive health counts a retried 503 once: with consecutive_5xx: 2 the
// origin is out after the second request, not the first.
func TestRetryOnPassiveCountsOnce(t *testing.T) {
	tr := &transcript{}
	busy, ok := tr.origin(t, "busy", status503), tr.origin(t, "ok", nil)
	h, e := passiveHarness(t, originsYAML("      retry_on: [503]\n"+passiveBlock, busy, ok))
	busyName := "api@" + strings.TrimPrefix(busy, "http://")
	if resp, _ := h.do("GET", "/r1", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("r1: %d", resp.StatusCode)
	}
	if r := reasons(e)[busyName]; r == "passive" {
		t.Fatalf("ejected after one 503: counted twice")
	}
	if resp, _ := h.do("GET", "/r2", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("r2: %d", resp.StatusCode)
	}
	if r := reasons(e)[busyName]; r != "passive" {
		t.Errorf("reason of %s = %q after two 503s, want passive", busyName, r)
	}
}

// The backend's timeout bounds the attempts together: once it has passed
// in the first one, no retry starts.
func TestRetryOnDeadlineBounds(t *testing.T) {
	tr := &transcript{}
	stop := make(chan struct{})
	slow := tr.origin(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	defer close(stop)
	h := newHarness(t, originsYAML("      timeout: 1s\n      retry_on: [connect_failure, reset, timeout, 504]\n", slow, tr.origin(t, "ok", nil)))
	resp, body := h.do("GET", "/x", nil, nil)
	expectError(t, resp, body, 504, "backend_timeout")
	wantTranscript(t, tr, "slow GET /x")
	if got := retriesByReason(t, h); len(got) != 0 {
		t.Errorf("retries %v, want none", got)
	}
}
