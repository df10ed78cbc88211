package tlslisten

import (
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// One h2 connection runs at most MaxConcurrentStreams requests at once:
// the server advertises it and a client opens another connection for
// more. Go's default was 250 per connection.
func TestHTTP2StreamsPerConnectionBounded(t *testing.T) {
	pki := testutil.NewPKI(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := New(raw, serverConfig(pki.Server(t, 1)), Options{})
	var mu sync.Mutex
	running := map[string]int{} // per client connection
	most, started := 0, 0
	allStarted := make(chan struct{})
	release := make(chan struct{})
	const requests = MaxConcurrentStreams + 50
	srv := &http.Server{HTTP2: HTTP2Config(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		running[r.RemoteAddr]++
		most = max(most, running[r.RemoteAddr])
		if started++; started == requests {
			close(allStarted)
		}
		mu.Unlock()
		<-release
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close(); <-done }()

	tr := &http.Transport{TLSClientConfig: pki.ClientConfig(), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	var wg sync.WaitGroup
	for range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := client.Get("https://" + raw.Addr().String() + "/"); err == nil {
				resp.Body.Close()
			}
		}()
	}
	select {
	case <-allStarted:
	case <-time.After(time.Minute):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("only %d of %d requests started", started, requests)
	}
	close(release)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if most != MaxConcurrentStreams {
		t.Fatalf("%d requests ran at once on one connection, want at most and up to %d", most, MaxConcurrentStreams)
	}
}
