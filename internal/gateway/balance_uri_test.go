package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// uriMapping is each of n paths' origin index under uri_hash, the key
// taken from a request for /static/<k>.js as the client sent it.
func uriMapping(t *testing.T, s *originSet, weights []int, down []int, n int) []int {
	t.Helper()
	idx := map[*upstreamOrigin]int{}
	for i, o := range s.origins {
		idx[o] = i
	}
	out := make([]int, n)
	for k := range n {
		key := pathKey(&http.Request{URL: &url.URL{Path: fmt.Sprintf("/static/%d.js", k)}})
		if !key.ok {
			t.Fatalf("path %d has no key", k)
		}
		out[k] = idx[s.choose(s.candidates(snapshotOf(s, weights, down...), time.Now(), nil, false, nil), key)]
	}
	return out
}

// The key is the path alone (HAProxy's balance uri default): the query
// string, the host and the fragment do not change it; the path does.
func TestURIHashKeyIsThePath(t *testing.T) {
	req := func(raw string) *http.Request {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return &http.Request{URL: u, Host: "a.example"}
	}
	base := pathKey(req("/img/logo.png"))
	if !base.ok {
		t.Fatal("a path has no key")
	}
	// Percent-decoded, as the router matches it: /img/%6Cogo.png is the
	// endpoint's /img/logo.png too.
	for _, same := range []string{"/img/logo.png?v=2", "/img/logo.png?", "http://b.example/img/logo.png?utm=x", "/img/%6Cogo.png"} {
		if got := pathKey(req(same)); got != base {
			t.Errorf("%s keyed %v, want the key of /img/logo.png", same, got)
		}
	}
	for _, other := range []string{"/img/logo.PNG", "/img/logo.png/", "/img/", "/"} {
		if got := pathKey(req(other)); !got.ok || got.hash == base.hash {
			t.Errorf("%s keyed like /img/logo.png (%v)", other, got)
		}
	}
	if got := pathKey(req("/" + strings.Repeat("a", 64<<10))); !got.ok {
		t.Error("a long path has no key")
	}
	for _, none := range []*http.Request{{URL: &url.URL{}}, {}} {
		if got := pathKey(none); got.ok {
			t.Errorf("a request without a path keyed %v, want the round robin fallback", got)
		}
	}
}

// Paths spread over the origins by weight, each path on one origin; an
// origin going down moves only its paths, and they come back with it.
func TestURIHashSpreadAndEject(t *testing.T) {
	const paths = 12000
	weights := []int{1, 1, 2}
	s := testOriginSet(t, config.BalanceURIHash, 0, weights...)
	healthy := uriMapping(t, s, weights, nil, paths)
	if again := uriMapping(t, s, weights, nil, paths); fmt.Sprint(again) != fmt.Sprint(healthy) {
		t.Fatal("the same paths went to other origins the second time")
	}
	got := shares(healthy, 3)
	for i, want := range []float64{0.25, 0.25, 0.5} {
		if got[i] < want-0.02 || got[i] > want+0.02 {
			t.Errorf("origin %d (weight %d) has share %.3f, want about %.2f", i, weights[i], got[i], want)
		}
	}
	down := uriMapping(t, s, weights, []int{2}, paths)
	for k := range paths {
		switch {
		case down[k] == 2:
			t.Fatalf("path %d went to the origin that is down", k)
		case healthy[k] != 2 && down[k] != healthy[k]:
			t.Fatalf("path %d of origin %d moved to %d when origin 2 went down", k, healthy[k], down[k])
		}
	}
	if back := uriMapping(t, s, weights, nil, paths); fmt.Sprint(back) != fmt.Sprint(healthy) {
		t.Error("the origin's paths did not come back to it")
	}
}

// Through the gateway: a path keeps its origin whatever its query, paths
// spread over all three origins, and no request is a fallback.
func TestURIHashEndToEnd(t *testing.T) {
	tr := &transcript{}
	h := newHarness(t, originsYAML("      load_balancing: uri_hash\n", threeOrigins(t, tr)...))
	used := map[string]bool{}
	for i := range 30 {
		p := fmt.Sprintf("/assets/%d.css", i)
		first, _ := originOf(t, h, tr, p, nil)
		used[first] = true
		for q := range 3 {
			if again, _ := originOf(t, h, tr, fmt.Sprintf("%s?v=%d", p, q), nil); again != first {
				t.Fatalf("%s went to %s, then with a query to %s", p, first, again)
			}
		}
	}
	if len(used) != 3 {
		t.Errorf("30 paths used origins %v, want all three", used)
	}
	if got := metricSum(t, h, "backline_gateway_origin_hash_fallbacks_total", "", ""); got != 0 {
		t.Errorf("fallbacks = %v, want 0", got)
	}
}

// The key is the client's path, not the one modifiers send upstream:
// with the backend's path fixing every upstream path to /fixed, client
// paths still spread (HAProxy hashes the request line it received too).
func TestURIHashKeyBeforeModifiers(t *testing.T) {
	tr := &transcript{}
	h := newHarness(t, originsYAML("      load_balancing: uri_hash\n      path: /fixed\n", threeOrigins(t, tr)...))
	used := map[string]bool{}
	for i := range 30 {
		o, _ := originOf(t, h, tr, fmt.Sprintf("/page/%d", i), nil)
		used[o] = true
		if lines := tr.get(); !strings.Contains(lines[len(lines)-1], "/fixed") {
			t.Fatalf("upstream request %q, want the backend's path /fixed", lines[len(lines)-1])
		}
	}
	if len(used) != 3 {
		t.Errorf("30 client paths used origins %v, want all three", used)
	}
}
