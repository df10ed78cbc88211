package gateway

import (
	"fmt"
	"testing"
)

// header_hash with hash_key Host: net/http (and backline's own server)
// keep the Host header in r.Host, not in r.Header, so the key was never
// found and every request went round robin (as a fallback). Caddy's
// header policy reads r.Host for it, nginx hashes $http_host.
func TestReviewHeaderHashHost(t *testing.T) {
	tr := &transcript{}
	h := newHarness(t, originsYAML("      load_balancing: header_hash\n      hash_key: Host\n", threeOrigins(t, tr)...))
	for i := range 6 {
		hdr := map[string]string{"Host": fmt.Sprintf("site-%d.example", i)}
		first, _ := originOf(t, h, tr, "/a", hdr)
		for range 3 {
			if again, _ := originOf(t, h, tr, "/b", hdr); again != first {
				t.Fatalf("host site-%d went to %s, then %s", i, first, again)
			}
		}
	}
	if got := metricSum(t, h, "backline_gateway_origin_hash_fallbacks_total", "", ""); got != 0 {
		t.Errorf("fallbacks = %v with a Host on every request, want 0", got)
	}
}
