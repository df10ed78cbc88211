package gateway

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fields a Connection header names go, in any spelling, with the
// hop-by-hop ones; keep-alive and close take no allocation (nginx says
// keep-alive on every answer).
func TestStripHopHeaders(t *testing.T) {
	h := http.Header{
		"Connection":   {"keep-alive, CLOSE , x-private,,", "Upgrade"},
		"Keep-Alive":   {"timeout=5"},
		"Close":        {"reserved"},
		"X-Private":    {"1"},
		"Upgrade":      {"websocket"},
		"Te":           {"trailers"},
		"Content-Type": {"text/plain"},
		"X-Kept":       {"2"},
	}
	stripHopHeaders(h)
	want := http.Header{"Content-Type": {"text/plain"}, "X-Kept": {"2"}}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Fatalf("after stripping (-want +got):\n%s", diff)
	}
	keepAlive := []string{"keep-alive"}
	h = http.Header{"Connection": keepAlive, "Content-Length": {"22"}}
	if n := testing.AllocsPerRun(100, func() {
		h["Connection"] = keepAlive
		stripHopHeaders(h)
	}); n != 0 {
		t.Fatalf("%v allocations stripping Connection: keep-alive", n)
	}
}
