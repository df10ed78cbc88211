package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
)

// BenchmarkServedPlainGET is a 22-byte GET through the listener path the
// daemon serves (ServeHandler on plain TCP, framing scan included) over one
// kept-alive connection: the plain path gateway.tls must leave as it was.
func BenchmarkServedPlainGET(b *testing.B) {
	body := []byte("0123456789abcdefghijk\n") // 22 bytes
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer origin.Close()
	cfg, err := config.Parse([]byte(gatewayYAML(origin.URL, "", "    - path: /x\n      proxy:\n        backend: api\n")))
	if err != nil {
		b.Fatal(err)
	}
	gw, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ServeHandler(ctx, ln, gw, slog.New(slog.DiscardHandler), "")
	}()
	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	url := "http://" + ln.Addr().String() + "/x"
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.StopTimer()
	tr.CloseIdleConnections()
	cancel()
	<-done
	gw.Close()
}
