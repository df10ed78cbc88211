package gateway

import (
	"context"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Many clients, random origin behaviour and random client cancels under
// max_connections: the limit holds and every connection ends idle or closed.
func TestUpstreamStress(t *testing.T) {
	var maxOpen atomic.Int64
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		d := time.Duration(rand.Intn(3)) * time.Millisecond
		time.Sleep(d)
		switch rand.Intn(5) {
		case 0:
			w.Header().Set("Connection", "close")
		case 1:
			w.WriteHeader(204)
			return
		case 2:
			for i := 0; i < 3; i++ {
				_, _ = w.Write([]byte(strings.Repeat("y", 5000)))
				w.(http.Flusher).Flush()
			}
			return
		}
		_, _ = w.Write([]byte("hello"))
	})
	o := newEchoWith(t, origin)
	// The timeouts only bound a hung request: with 16 clients on 4 slots a
	// loaded machine (race detector, nice 19) can keep one waiting for a
	// slot for seconds, and a 504 there is no accounting bug.
	h := newHarness(t, gatewayYAML(o, "      max_connections: 4\n      timeout: 60s\n      ttfb_timeout: 30s\n", "    - path: /**\n      proxy:\n        backend: api\n"))
	set := h.gw.runtimes[0].transports
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := set.conns.open.Load(); n > maxOpen.Load() {
				maxOpen.Store(n)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Go(func() {
			for i := 0; i < 150; i++ {
				ctx, cancel := context.WithCancel(context.Background())
				if rand.Intn(6) == 0 {
					time.AfterFunc(time.Duration(rand.Intn(2000))*time.Microsecond, cancel)
				}
				methods := []string{"GET", "POST", "HEAD"}
				m := methods[rand.Intn(3)]
				var body io.Reader
				if m == "POST" {
					body = strings.NewReader("data")
				}
				req, _ := http.NewRequestWithContext(ctx, m, h.srv.URL+"/x", body)
				resp, err := h.client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 500 {
						t.Errorf("%s: %d", m, resp.StatusCode)
					}
				}
				cancel()
			}
		})
	}
	wg.Wait()
	close(stop)
	// A client returns as soon as it cancels; the gateway's handler notices
	// later (when it reads the closed connection) and may still take, dial
	// or close an upstream connection. Closing the front server waits for
	// every handler, so the counts below are final (open and idle were
	// once equal for a moment while a handler still ran, and the check
	// after the wait saw open change).
	h.srv.Close()
	idleConns := func() int {
		var idle int
		for _, p := range set.pools {
			hp := p.(*h1Pool)
			hp.mu.Lock()
			idle += len(hp.idle)
			hp.mu.Unlock()
		}
		return idle
	}
	// A canceled request's connection is closed by its own goroutine,
	// maybe after the client returned: wait for the count to settle
	// instead of sleeping a fixed 100 ms.
	var idle int
	for i := 0; i < 2000; i++ {
		if idle = idleConns(); set.conns.open.Load() == int64(idle) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("max open %d, open now %d, idle %d", maxOpen.Load(), set.conns.open.Load(), idle)
	if maxOpen.Load() > 4 || set.conns.open.Load() != int64(idle) {
		t.Fatal("accounting")
	}
}

func newEchoWith(t *testing.T, hf http.Handler) string {
	s := httptest.NewServer(hf)
	t.Cleanup(s.Close)
	return s.URL
}
