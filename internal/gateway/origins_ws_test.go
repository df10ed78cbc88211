package gateway

import (
	"testing"
	"time"
)

// A websocket upgrade to a backend with origins is balanced and retried
// like any request, and holds its origin's in-flight count until the
// tunnel ends (least_connections counts it).
func TestOriginsWebsocketUpgrade(t *testing.T) {
	_, srv := newWSOrigin(t)
	h := newHarness(t, `definitions:
  backends:
    ws:
      origins: [`+refusedOrigin(t)+`, `+srv.URL+`]
      load_balancing: least_connections
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /chat/**
      proxy:
        backend: ws
        websockets: true
`)
	settle(t, h)
	conn, br, resp := wsDial(t, h, "/chat/x", "websocket", nil)
	if resp.StatusCode != 101 {
		t.Fatalf("answer %d", resp.StatusCode)
	}
	wsOriginOf := h.gw.backends["ws"].origins.origins[1]
	if n := wsOriginOf.inFlight.Load(); n != 1 {
		t.Errorf("in flight during the tunnel: %d, want 1", n)
	}
	if _, err := conn.Write(wsFrame(0x1, []byte("hi"), true)); err != nil {
		t.Fatal(err)
	}
	if op, payload, err := wsRead(br); err != nil || op != 0x1 || string(payload) != "echo:hi" {
		t.Fatalf("echo: %v %x %q", err, op, payload)
	}
	conn.Close()
	for i := 0; wsOriginOf.inFlight.Load() != 0; i++ {
		if i > 2000 {
			t.Fatal("in-flight count never came back to 0 after the tunnel ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := metricSum(t, h, "backline_gateway_origin_retries_total", "", ""); got != 1 {
		t.Errorf("retries %v, want 1 (the refusing origin first)", got)
	}
}
