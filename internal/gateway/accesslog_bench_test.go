package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
)

// BenchmarkAccessLog is a proxied request with the access log off and on
// (JSON to a discarding writer: the encoding, not the write, is measured).
func BenchmarkAccessLog(b *testing.B) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) }))
	defer origin.Close()
	for _, c := range []struct{ name, extra string }{
		{"off", "  access_log: false\n  request_id: {client_header: \"\"}\n"},
		{"on", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			yml := "definitions:\n  backends:\n    api:\n      origin: " + origin.URL + "\ngateway:\n  address: 127.0.0.1:18999\n" + c.extra +
				"  endpoints:\n    - path: /x\n      proxy:\n        backend: api\n"
			cfg, err := config.Parse([]byte(yml))
			if err != nil {
				b.Fatal(err)
			}
			gw, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			defer gw.Close()
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				gw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x?a=1", nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
