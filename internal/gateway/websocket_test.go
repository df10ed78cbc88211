package gateway

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="

// wsDial sends an upgrade request (plus early bytes) to the gateway and
// reads the answer's head.
func wsDial(t *testing.T, h *harness, path, upgrade string, early []byte) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn := h.dialRaw(t)
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second)) // a hang fails the test instead of the run
	req := "GET " + path + " HTTP/1.1\r\nHost: gw.test\r\nUpgrade: " + upgrade + "\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer client-secret\r\n\r\n"
	if _, err := conn.Write(append([]byte(req), early...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v\nlogs %s", err, h.logs)
	}
	return conn, br, resp
}

func TestWebsocketProxiedWithExactHandshake(t *testing.T) {
	h, o := wsHarness(t, `        websockets:
          timeout: 1h
          set_request_headers: {X-Ws: on}
          set_response_headers: {X-Ws-Answer: yes}
`)
	conn, br, resp := wsDial(t, h, "/chat/room?x=1", "websocket", nil)
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" || resp.Header.Get("Connection") != "Upgrade" ||
		resp.Header.Get("Sec-Websocket-Accept") != wsAccept(wsKey) || resp.Header.Get("X-Ws-Answer") != "yes" ||
		resp.Header.Get("X-Origin") != "ws" || resp.Header.Get("Couper-Request-Id") == "" {
		t.Fatalf("answer %d %v", resp.StatusCode, resp.Header)
	}
	want := "GET /chat/room?x=1 HTTP/1.1\n" +
		"Connection: Upgrade\n" +
		"Couper-Request-Id: <1 value(s)>\n" +
		"Sec-Websocket-Key: " + wsKey + "\n" +
		"Sec-Websocket-Version: 13\n" +
		"Upgrade: websocket\n" +
		"X-Forwarded-For: <1 value(s)>\n" +
		"X-Forwarded-Host: gw.test\n" +
		"X-Forwarded-Proto: http\n" +
		"X-Ws: on\n"
	if got := o.handshakes(); len(got) != 1 || got[0] != want {
		t.Fatalf("origin saw\n%s\nwant\n%s", strings.Join(got, "\n--\n"), want)
	}
	for _, msg := range []string{"hello", strings.Repeat("x", 3000)} {
		if _, err := conn.Write(wsFrame(0x1, []byte(msg), true)); err != nil {
			t.Fatal(err)
		}
		op, payload, err := wsRead(br)
		if err != nil || op != 0x1 || string(payload) != "echo:"+msg {
			t.Fatalf("echo: %v %x %.20q", err, op, payload)
		}
	}
	_, _ = conn.Write(wsFrame(0x8, []byte{0x03, 0xe8}, true))
	if op, payload, err := wsRead(br); err != nil || op != 0x8 || string(payload) != "\x03\xe8" {
		t.Fatalf("close: %v %x %q", err, op, payload)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after close: %v, want EOF", err)
	}
	conn.Close()
	waitForLog(t, h, `"status":101`)
	if strings.Contains(h.logs.String(), "client-secret") {
		t.Fatal("the client's Authorization reached a log")
	}
}

// waitForLog waits for the handler to finish (the access line is written
// when it returns); the deadline only guards against a hang.
func waitForLog(t *testing.T, h *harness, want string) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if strings.Contains(h.logs.String(), want) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("log lacks %s:\n%s", want, h.logs)
}

func TestWebsocketEarlyDataAndHalfClose(t *testing.T) {
	h, _ := wsHarness(t, "        websockets: true\n")
	// The client sends a frame before it has the 101 (RFC 6455 forbids
	// it; some clients do it anyway): it reaches the origin after the
	// handshake, in order.
	conn, br, resp := wsDial(t, h, "/chat/x", "WebSocket", wsFrame(0x1, []byte("early"), true))
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "WebSocket" {
		t.Fatalf("answer %d %v", resp.StatusCode, resp.Header)
	}
	if _, payload, err := wsRead(br); err != nil || string(payload) != "echo:early" {
		t.Fatalf("early frame: %v %q", err, payload)
	}
	_, _ = conn.Write(wsFrame(0x1, []byte("last"), true))
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	// The half-close travels to the origin, which still answers.
	for _, want := range []string{"echo:last", "bye"} {
		if _, payload, err := wsRead(br); err != nil || string(payload) != want {
			t.Fatalf("after half-close: %v %q, want %q", err, payload, want)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestWebsocketRefusedOrNotAllowed(t *testing.T) {
	h, o := wsHarness(t, "        websockets: true\n")
	t.Run("origin refuses", func(t *testing.T) {
		o.mu.Lock()
		o.refuse = http.StatusForbidden
		o.mu.Unlock()
		defer func() { o.mu.Lock(); o.refuse = 0; o.mu.Unlock() }()
		// Early bytes that look like a request must not be served as one.
		conn, br, resp := wsDial(t, h, "/chat/x", "websocket", []byte("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"))
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 403 || string(body) != "no upgrade\n" || !resp.Close {
			t.Fatalf("refusal: %d %q close=%v", resp.StatusCode, body, resp.Close)
		}
		if rest, err := io.ReadAll(br); len(rest) != 0 || err != nil {
			t.Fatalf("after a refused upgrade the connection went on: %q %v", rest, err)
		}
		_ = conn
	})
	t.Run("endpoint without websockets", func(t *testing.T) {
		_, _, resp := wsDial(t, h, "/plain", "websocket", nil)
		if resp.StatusCode != http.StatusUpgradeRequired || !resp.Close {
			t.Fatalf("plain endpoint: %d close=%v", resp.StatusCode, resp.Close)
		}
		last := o.handshakes()[len(o.handshakes())-1]
		if strings.Contains(last, "Upgrade") || strings.Contains(last, "Connection") {
			t.Fatalf("Upgrade forwarded on an endpoint without websockets:\n%s", last)
		}
	})
	t.Run("protocol not listed", func(t *testing.T) {
		_, _, resp := wsDial(t, h, "/chat/x", "h2c", nil)
		if resp.StatusCode != http.StatusUpgradeRequired {
			t.Fatalf("h2c: %d", resp.StatusCode)
		}
	})
	t.Run("origin switches to another protocol", func(t *testing.T) {
		o.mu.Lock()
		o.proto = "irc"
		o.mu.Unlock()
		defer func() { o.mu.Lock(); o.proto = ""; o.mu.Unlock() }()
		_, _, resp := wsDial(t, h, "/chat/x", "websocket", nil)
		if resp.StatusCode != 502 || resp.Header.Get(ErrorHeader) != "backend" {
			t.Fatalf("switch to irc: %d %v", resp.StatusCode, resp.Header)
		}
	})
}

// TestWebsocketTimeoutEndsSlowPeers: a client that never reads while the
// origin floods it, and one that sends nothing, are both cut off at the
// websockets timeout; nothing is left running (goleak checks at exit).
func TestWebsocketTimeoutEndsSlowPeers(t *testing.T) {
	// The handshake must finish within the websockets timeout too: 1 s
	// (was 300 ms, which a loaded machine could spend on it).
	h, o := wsHarness(t, "        websockets: {timeout: 1s}\n")
	o.mu.Lock()
	o.flood = 64 << 20
	o.mu.Unlock()
	_, br, resp := wsDial(t, h, "/chat/flood", "websocket", nil)
	if resp.StatusCode != 101 {
		t.Fatalf("answer %d", resp.StatusCode)
	}
	waitForLog(t, h, `"status":101`) // the handler ended without our reading
	if n, _ := io.Copy(io.Discard, br); n >= 64<<20 {
		t.Fatalf("the whole flood got through (%d bytes)", n)
	}
	o.mu.Lock()
	o.flood = 0
	o.mu.Unlock()
	conn, br, resp := wsDial(t, h, "/chat/idle", "websocket", nil)
	if resp.StatusCode != 101 {
		t.Fatalf("answer %d", resp.StatusCode)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("an idle tunnel outlived its timeout")
	}
	_ = conn
}

func TestWebsocketsConfig(t *testing.T) {
	base := "gateway:\n  address: 127.0.0.1:18999\n  endpoints:\n    - path: /x\n      proxy:\n        url: http://127.0.0.1:9\n        websockets:"
	wantConfigError(t, base+" 5\n", "gateway.endpoints[0].proxy.websockets (line 7)", "must be true, false or a mapping")
	wantConfigError(t, base+"\n          protocols: [websocket, h2c]\n", "gateway.endpoints[0].proxy.websockets.protocols[1] (line 8)", "cannot be tunnelled")
	wantConfigError(t, base+"\n          timeout: -1s\n", "gateway.endpoints[0].proxy.websockets.timeout (line 8)", "must not be negative")
	wantConfigError(t, base+"\n          set_query_params: {a: b}\n", "gateway.endpoints[0].proxy.websockets.set_query_params (line 8)")
	wantConfigError(t, "gateway:\n  address: 127.0.0.1:18999\n  endpoints:\n    - path: /x\n      request:\n        url: http://127.0.0.1:9\n        websockets: true\n",
		"gateway.endpoints[0].request.websockets (line 7)")
}

// TestWebsocketHalfCloseLingerIsBounded: the origin ends its side and the
// client never closes its own: the tunnel ends after the linger, not at
// the (long) total timeout.
func TestWebsocketHalfCloseLingerIsBounded(t *testing.T) {
	defer func(d time.Duration) { halfCloseLinger = d }(halfCloseLinger)
	halfCloseLinger = 50 * time.Millisecond
	h, _ := wsHarness(t, "        websockets: {timeout: 1h}\n")
	conn, br, resp := wsDial(t, h, "/chat/x", "websocket", nil)
	if resp.StatusCode != 101 {
		t.Fatalf("answer %d", resp.StatusCode)
	}
	_, _ = conn.Write(wsFrame(0x8, nil, true)) // the origin answers and closes
	if op, _, err := wsRead(br); err != nil || op != 0x8 {
		t.Fatalf("close: %v %x", err, op)
	}
	waitForLog(t, h, `"status":101`) // the handler returned with the client still open
}

// TestWebsocketThroughForwardProxy: with a forward proxy the upgrade goes
// through net/http's transport, whose 101 body is the tunnel.
func TestWebsocketThroughForwardProxy(t *testing.T) {
	_, origin := newWSOrigin(t)
	proxy := rawForwardProxy(t)
	// The env proxy exempts loopback, the proxy attribute does not: the
	// gateway dials the proxy for every origin.
	h := newHarness(t, `gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /chat
      proxy:
        backend:
          origin: `+origin.URL+`
          proxy: `+proxy.URL+`
        websockets: {timeout: 1m}
`)
	settle(t, h)
	conn, br, resp := wsDial(t, h, "/chat", "websocket", nil)
	if resp.StatusCode != 101 || resp.Header.Get("Sec-Websocket-Accept") != wsAccept(wsKey) {
		t.Fatalf("answer %d %v\nlogs %s", resp.StatusCode, resp.Header, h.logs)
	}
	_, _ = conn.Write(wsFrame(0x1, []byte("via proxy"), true))
	if _, payload, err := wsRead(br); err != nil || string(payload) != "echo:via proxy" {
		t.Fatalf("echo: %v %q", err, payload)
	}
	_, _ = conn.Write(wsFrame(0x8, nil, true))
	if op, _, err := wsRead(br); err != nil || op != 0x8 {
		t.Fatalf("close: %v %x", err, op)
	}
	conn.Close()
	waitForLog(t, h, `"status":101`)
}

// TestWebsocketHoldsConnectionSlot: an open tunnel is a connection of the
// backend, so max_connections counts it until it ends.
func TestWebsocketHoldsConnectionSlot(t *testing.T) {
	_, srv := newWSOrigin(t)
	h := newHarness(t, `definitions:
  backends:
    ws:
      origin: `+srv.URL+`
      max_connections: 1
      timeout: 1s
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /chat
      proxy:
        backend: ws
        websockets: {timeout: 1h}
    - path: /plain
      proxy:
        backend: ws
`)
	settle(t, h)
	conn, _, resp := wsDial(t, h, "/chat", "websocket", nil)
	if resp.StatusCode != 101 {
		t.Fatalf("answer %d", resp.StatusCode)
	}
	// backend timeout 1 s (was 300 ms): /plain after the tunnel must reach
	// the origin within it on a loaded machine too.
	r2, body := h.do("GET", "/plain", nil, nil)
	expectError(t, r2, body, 504, "backend_timeout") // queued behind the tunnel
	conn.Close()
	waitForLog(t, h, `"status":101`)
	if r3, _ := h.do("GET", "/plain", nil, nil); r3.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("after the tunnel: %d", r3.StatusCode)
	}
}

// TestWebsocketTimeoutBoundsTheHandshake: the websockets timeout replaces
// the backend's for upgrades, so an origin that never answers the
// handshake is a 504 at the websockets timeout (the backend's is 1h).
func TestWebsocketTimeoutBoundsTheHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	held.Add(1)
	go func() {
		defer held.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c) // reads the handshake, never answers
		c.Close()
	}()
	t.Cleanup(func() { ln.Close(); held.Wait() })
	h := newHarness(t, `gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /chat
      proxy:
        backend: {origin: http://`+ln.Addr().String()+`, timeout: 1h, ttfb_timeout: 1h}
        websockets: {timeout: 200ms}
`)
	settle(t, h)
	_, _, resp := wsDial(t, h, "/chat", "websocket", nil)
	if resp.StatusCode != 504 || resp.Header.Get(ErrorHeader) != "backend_timeout" || !resp.Close {
		t.Fatalf("answer %d %v", resp.StatusCode, resp.Header)
	}
}

// TestWebsocketOverTLSOrigin: a wss origin (https backend) through the h1
// client's TLS connection, half-close included (TLS close_notify).
func TestWebsocketOverTLSOrigin(t *testing.T) {
	p := newTestPKI(t)
	o := &wsOrigin{}
	srv := httptest.NewUnstartedServer(o)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}}
	srv.StartTLS()
	t.Cleanup(func() { srv.Close(); o.active.Wait() })
	h := newHarness(t, `definitions:
  backends:
    wss:
      origin: `+srv.URL+`
      tls:
        server_ca_certificate_file: `+p.caFile+`
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /chat
      proxy:
        backend: wss
        websockets: true
`)
	settle(t, h)
	conn, br, resp := wsDial(t, h, "/chat", "websocket", nil)
	if resp.StatusCode != 101 {
		t.Fatalf("answer %d\nlogs %s", resp.StatusCode, h.logs)
	}
	_, _ = conn.Write(wsFrame(0x1, []byte("secure"), true))
	if _, payload, err := wsRead(br); err != nil || string(payload) != "echo:secure" {
		t.Fatalf("echo: %v %q", err, payload)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, payload, err := wsRead(br); err != nil || string(payload) != "bye" {
		t.Fatalf("after half-close: %v %q", err, payload)
	}
}
