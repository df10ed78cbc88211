package gateway

import (
	"testing"

	"github.com/backline/backline/internal/config"
)

// An origin of a set keeps its host:port from the build; the destination
// a pick builds with it is the one destinationAt builds from the origin,
// default ports and IPv6 literals included.
func TestOriginKeepsHostPort(t *testing.T) {
	cfg, err := config.Parse([]byte(originsYAML("      hostname: api.example\n",
		"http://a.test", "https://b.test", "http://[::1]:8080", "https://127.0.0.1:8443")))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	bv := gw.views["api"]
	up := &upstream{}
	want := []string{"a.test:80", "b.test:443", "[::1]:8080", "127.0.0.1:8443"}
	for i, o := range bv.rt.origins.origins {
		if o.hostPort != want[i] {
			t.Errorf("origin %d: host:port %q, want %q", i, o.hostPort, want[i])
		}
		if got, exp := gw.destinationAtHostPort(bv, up, o.origin, o.hostPort), gw.destinationAt(bv, up, o.origin); got != exp {
			t.Errorf("origin %d: destination %+v, want %+v", i, got, exp)
		}
	}
}
