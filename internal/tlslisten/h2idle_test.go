package tlslisten

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/backline/backline/internal/connlimit"
	"github.com/backline/backline/internal/testutil"
)

// net/http reports an h2 connection idle when its last stream ends, so a
// capped listener under TLS closes an idle h2 connection for a waiting
// client as it does an HTTP/1 keep-alive one (the client's 5 s timeout
// only stops a broken test: the server has no idle timeout here).
func TestIdleHTTP2ConnectionMakesRoomAtTheCap(t *testing.T) {
	pki := testutil.NewPKI(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	capped := connlimit.Wrap(raw, connlimit.Options{MaxConnections: 1})
	ln := New(capped, serverConfig(pki.Server(t, 1)), Options{})
	srv := &http.Server{ConnState: capped.ConnState, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close(); <-done }()

	get := func() (*http.Transport, string) {
		tr := &http.Transport{TLSClientConfig: pki.ClientConfig(), ForceAttemptHTTP2: true}
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + raw.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return tr, string(b)
	}
	first, proto := get() // keeps its h2 connection open, idle
	defer first.CloseIdleConnections()
	if proto != "HTTP/2.0" {
		t.Fatalf("first client: %q", proto)
	}
	second, proto := get()
	defer second.CloseIdleConnections()
	if proto != "HTTP/2.0" {
		t.Fatalf("second client: %q", proto)
	}
	if n := capped.IdleEvictions(); n != 1 {
		t.Fatalf("idle evictions %d, want 1", n)
	}
}
