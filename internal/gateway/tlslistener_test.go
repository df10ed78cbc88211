package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/backline/backline/internal/testutil"
	"github.com/backline/backline/internal/tlslisten"
)

// newTLSHarness serves the gateway of yml behind gateway.tls the way the
// daemon does (ServeHandler on a tlslisten.Listener): HTTP/1.1 clients
// and, with h2, h2 clients through ALPN. Raw connections (dialRaw) are
// TLS connections that offer only http/1.1.
func newTLSHarness(t *testing.T, yml string, h2 bool) *harness {
	t.Helper()
	cfg := parseConfig(t, yml)
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	gw, err := New(Options{Config: cfg, Registerer: reg,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	pki := testutil.NewPKI(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := tlslisten.New(inner, &tls.Config{
		Certificates: []tls.Certificate{pki.Server(t, 1).Cert}, MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
	}, tlslisten.Options{Name: "gateway"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeHandler(ctx, tl, gw, gw.logger, "") }()
	addr := inner.Addr().String()
	tr := &http.Transport{TLSClientConfig: pki.ClientConfig(), ForceAttemptHTTP2: h2}
	h := &harness{t: t, gw: gw, srv: &testServer{URL: "https://" + addr, Listener: tl, stop: func() {}},
		client: &http.Client{Transport: tr}, logs: logs, reg: reg,
		dial: func() (net.Conn, error) { return tls.Dial("tcp", addr, pki.ClientConfig("http/1.1")) }}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeHandler: %v", err)
		}
		gw.Close()
	})
	return h
}

func tlsFramingHarness(t *testing.T, o *recordingOrigin, endpoint string) *harness {
	t.Helper()
	if endpoint == "" {
		endpoint = "    - path: /api/**\n      proxy:\n        backend: api\n"
	}
	return newTLSHarness(t, gatewayYAML(o.url, "", endpoint), true)
}

// The request framing checks hold on HTTP/1.1 over TLS: the framing scan
// reads the decrypted bytes.
func TestFramingChecksOverTLS(t *testing.T) {
	for name, test := range map[string]func(*testing.T, framingHarnessFunc){
		"HTTP10ChunkedIsRefused":                          testHTTP10ChunkedIsRefused,
		"ContentLengthWithChunkedIsRefusedAndClosed":      testContentLengthWithChunkedIsRefusedAndClosed,
		"WellFramedPipelineKeepsTheConnection":            testWellFramedPipelineKeepsTheConnection,
		"ChunkedUploadIsForwardedThenTheConnectionCloses": testChunkedUploadIsForwardedThenTheConnectionCloses,
		"HTTP10ChunkedCannotSmuggle":                      testHTTP10ChunkedCannotSmuggle,
		"HostileRequestInput":                             testHostileRequestInput,
	} {
		t.Run(name, func(t *testing.T) { test(t, tlsFramingHarness) })
	}
}

// An h2 client reaches an HTTP/1.1 origin: the gateway speaks HTTP/1.1
// upstream, whatever the client spoke, and bodies go through intact.
func TestHTTP2ClientToHTTP1Origin(t *testing.T) {
	o := newEcho(t)
	h := newTLSHarness(t, gatewayYAML(o.URL, "", "    - path: /x\n      proxy:\n        backend: api\n"), true)
	resp, body := h.do(http.MethodPost, "/x", strings.NewReader("hello over h2"), map[string]string{"X-Client": "c"})
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("status %d proto %s: %s", resp.StatusCode, resp.Proto, body)
	}
	e := decodeEcho(t, body)
	if e.Proto != "HTTP/1.1" || e.Method != http.MethodPost || e.Body != "hello over h2" || e.Header["X-Client"][0] != "c" {
		t.Fatalf("origin saw %+v", e)
	}
	// An HTTP/1.1 client on the same listener.
	h1 := newTLSHarness(t, gatewayYAML(o.URL, "", "    - path: /x\n      proxy:\n        backend: api\n"), false)
	resp, body = h1.do(http.MethodGet, "/x", nil, nil)
	if resp.StatusCode != 200 || resp.ProtoMajor != 1 || decodeEcho(t, body).Proto != "HTTP/1.1" {
		t.Fatalf("HTTP/1.1 client: %d %s %s", resp.StatusCode, resp.Proto, body)
	}
}

// A large body never takes the splice path to a TLS client (splice moves
// TCP bytes, which would skip the encryption): it arrives whole, copied.
func TestTLSClientsAreNeverSpliced(t *testing.T) {
	body := spliceBodyBytes(spliceMin + 100<<10)
	o := newRawOrigin(t, serveBody(body))
	for _, h2 := range []bool{false, true} {
		h := newTLSHarness(t, gatewayYAML(o.url(), "", "    - path: /x\n      proxy:\n        backend: api\n"), h2)
		before := splicedBodies.Load()
		resp, got := h.do(http.MethodGet, "/x", nil, nil)
		if resp.StatusCode != 200 || got != string(body) {
			t.Fatalf("h2 %v: status %d, %d bytes, want %d", h2, resp.StatusCode, len(got), len(body))
		}
		if n := splicedBodies.Load() - before; n != 0 {
			t.Fatalf("h2 %v: %d bodies spliced to a TLS client", h2, n)
		}
	}
}

// h2 has no Transfer-Encoding: a request that carries one (or other
// connection-specific fields) is refused by net/http's h2 server before
// the gateway sees it, so nothing reaches the origin.
func TestHTTP2FramingFieldsNeverReachTheOrigin(t *testing.T) {
	o := newRecordingOrigin(t)
	h := tlsFramingHarness(t, o, "")
	addr := h.srv.URL[len("https://"):]
	cc := h.client.Transport.(*http.Transport).TLSClientConfig.Clone()
	cc.NextProtos = []string{"h2"}
	for _, fields := range [][][2]string{
		{{"transfer-encoding", "chunked"}, {"content-length", "5"}},
		{{"connection", "keep-alive"}},
		{{"content-length", "3"}, {"content-length", "4"}},
	} {
		c, err := tls.Dial("tcp", addr, cc)
		if err != nil {
			t.Fatal(err)
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
			t.Fatalf("ALPN chose %q", p)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		status, reset := h2Exchange(t, c, fields, "hello")
		c.Close()
		if !reset && status < 400 {
			t.Fatalf("%v: status %d, not refused", fields, status)
		}
	}
	if seen := o.seen(); len(seen) != 0 {
		t.Fatalf("origin saw %+v", seen)
	}
}

// h2Exchange sends one POST /api/x with the extra header fields and body
// as raw h2 frames (a Go client would drop the fields), and returns the
// response status, or reset when the stream or connection was refused.
func h2Exchange(t *testing.T, c net.Conn, fields [][2]string, body string) (status int, reset bool) {
	t.Helper()
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range append([][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", "gw"}, {":path", "/api/x"}}, fields...) {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	_ = fr.WriteData(1, true, []byte(body))
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return 0, true // the connection was closed on us
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			return 0, true
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeNo {
				return 0, true
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			hf, err := dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hf {
				if h.Name == ":status" {
					var n int
					for _, d := range h.Value {
						n = n*10 + int(d-'0')
					}
					return n, false
				}
			}
		}
	}
}

// A websocket goes through gateway.tls on an HTTP/1.1 connection (h2 has
// no Upgrade; a browser opens an HTTP/1.1 connection for it).
func TestWebsocketOverTLSListener(t *testing.T) {
	h, _ := wsHarnessWith(t, "        websockets: true\n", func(t *testing.T, yml string) *harness { return newTLSHarness(t, yml, true) })
	conn, br, resp := wsDial(t, h, "/chat/room", "websocket", nil)
	if resp.StatusCode != 101 || resp.Header.Get("Sec-Websocket-Accept") != wsAccept(wsKey) {
		t.Fatalf("answer %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := conn.Write(wsFrame(0x1, []byte("hello"), true)); err != nil {
		t.Fatal(err)
	}
	if op, payload, err := wsRead(br); err != nil || op != 0x1 || string(payload) != "echo:hello" {
		t.Fatalf("echo: %v %x %q", err, op, payload)
	}
	_, _ = conn.Write(wsFrame(0x8, []byte{0x03, 0xe8}, true))
	if op, _, err := wsRead(br); err != nil || op != 0x8 {
		t.Fatalf("close: %v %x", err, op)
	}
	conn.Close()
	waitForLog(t, h, `"status":101`)
}

// An h2 request's Host field, next to :authority, never reaches a
// template: ${request.headers.host} is empty as on HTTP/1 (net/http moves
// Host to r.Host there), and ${request.host} is the :authority.
func TestHTTP2HostFieldIsDropped(t *testing.T) {
	seen := make(chan string, 1)
	origin := newEchoWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("X-Seen-Host")
	}))
	ep := "    - path: /api/**\n      proxy:\n        backend: api\n        set_request_headers:\n" +
		"          X-Seen-Host: \"${request.headers.host}|${request.host}\"\n"
	h := newTLSHarness(t, gatewayYAML(origin, "", ep), true)
	cc := h.client.Transport.(*http.Transport).TLSClientConfig.Clone()
	cc.NextProtos = []string{"h2"}
	c, err := tls.Dial("tcp", h.srv.URL[len("https://"):], cc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if status, reset := h2Exchange(t, c, [][2]string{{"host", "evil.example"}}, "hello"); reset || status != 200 {
		t.Fatalf("status %d, reset %v", status, reset)
	}
	if got := <-seen; got != "|gw" {
		t.Fatalf("origin saw X-Seen-Host %q, want %q", got, "|gw")
	}
}
