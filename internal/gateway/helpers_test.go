package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo is what the echo origin saw.
type echo struct {
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	RawQuery string              `json:"raw_query"`
	Host     string              `json:"host"`
	Header   map[string][]string `json:"header"`
	Body     string              `json:"body"`
	Remote   string              `json:"remote"`
	Proto    string              `json:"proto"`
}

// echoHandler answers with a JSON description of the request and a few
// response headers for the response modifier tests.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e := echo{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host,
		Header: r.Header, Body: string(body), Remote: r.RemoteAddr, Proto: r.Proto}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Origin", "origin")
	w.Header().Set("X-Layer", "origin")
	w.Header().Set("Connection", "X-Private")
	w.Header().Set("X-Private", "hop")
	_ = json.NewEncoder(w).Encode(e)
}

func newEcho(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(echoHandler))
	t.Cleanup(s.Close)
	return s
}

type logBuffer = testutil.LogBuffer

// harness is a gateway in front of test origins.
type harness struct {
	t      *testing.T
	gw     *Gateway
	srv    *testServer
	client *http.Client
	logs   *logBuffer
	reg    *prometheus.Registry
	// dial opens a raw client connection to the gateway: TCP, or TLS on a
	// gateway.tls harness (tlsharness_test.go).
	dial func() (net.Conn, error)
}

// dialRaw opens a raw client connection for hand-written requests.
func (h *harness) dialRaw(t *testing.T) net.Conn {
	t.Helper()
	if h.dial != nil {
		c, err := h.dial()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parseConfig(t *testing.T, yml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml)
	}
	return cfg
}

func newHarness(t *testing.T, yml string, mutate ...func(*Options)) *harness {
	t.Helper()
	cfg := parseConfig(t, yml)
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	opts := Options{
		Config:     cfg,
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: reg,
	}
	for _, m := range mutate {
		m(&opts)
	}
	gw, err := New(opts)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	// The server ServeListener runs, so framing checks and limits apply.
	srv := serveForTest(t, gw)
	tr := &http.Transport{}
	h := &harness{t: t, gw: gw, srv: srv, client: &http.Client{Transport: tr}, logs: logs, reg: reg}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
		gw.Close()
	})
	return h
}

// testServer is h served on 127.0.0.1 the way ServeListener serves a
// plain listener (h1server.go), with a short drain at Close.
type testServer struct {
	URL      string
	Listener net.Listener
	stop     func()
}

func (s *testServer) Close() { s.stop() }

func serveForTest(t testing.TB, h http.Handler) *testServer {
	return serveForTestWith(t, h, "")
}

// serveForTestWith serves with the given gateway.http1_server.
func serveForTestWith(t testing.TB, h http.Handler, server string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveHandler(ctx, ln, h, slog.New(slog.DiscardHandler), server, 200*time.Millisecond) }()
	var once sync.Once
	return &testServer{URL: "http://" + ln.Addr().String(), Listener: ln, stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("serving: %v", err)
			}
		})
	}}
}

// do sends a request to the gateway and returns the response with its body read.
func (h *harness) do(method, path string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	h.t.Helper()
	return h.doCtx(context.Background(), method, path, body, hdr)
}

func (h *harness) doCtx(ctx context.Context, method, path string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, h.srv.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range hdr {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// get sends GET and decodes the echo; it fails the test unless the status is 200.
func (h *harness) echo(path string, hdr map[string]string) echo {
	h.t.Helper()
	resp, body := h.do(http.MethodGet, path, nil, hdr)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s: status %d, body %s, logs %s", path, resp.StatusCode, body, h.logs.String())
	}
	var e echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		h.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	return e
}

// errorBody is the JSON of a gateway error answer.
type errorBody struct {
	Error struct {
		Type      string `json:"type"`
		Status    int    `json:"status"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// expectError checks status, header and body of a gateway error answer.
func expectError(t *testing.T, resp *http.Response, body string, status int, typ string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if got := resp.Header.Get(ErrorHeader); got != typ {
		t.Fatalf("%s = %q, want %q", ErrorHeader, got, typ)
	}
	var eb errorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if eb.Error.Type != typ || eb.Error.Status != status || eb.Error.RequestID == "" {
		t.Fatalf("error body = %+v, want type %s status %d and a request id", eb, typ, status)
	}
}

func decodeEcho(t *testing.T, body string) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return e
}

// metricSum sums the values (gauge or counter) of a metric's series whose
// label has value; an empty label sums them all.
func metricSum(t *testing.T, h *harness, name, label, value string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && !hasLabel(m.GetLabel(), label, value) {
				continue
			}
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum
}

func hasLabel(pairs []*dto.LabelPair, name, value string) bool {
	for _, lp := range pairs {
		if lp.GetName() == name && lp.GetValue() == value {
			return true
		}
	}
	return false
}
