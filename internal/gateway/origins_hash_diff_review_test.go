package gateway

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// hashDiffAnswer stands for sendLayer: an answer without a transport,
// 503 from origin c (retry_on: [503] sends the request on), and the
// origins tried, in order.
type hashDiffAnswer struct{ tried *strings.Builder }

func (a hashDiffAnswer) roundTrip(c *call) (*exchange, *gatewayError) {
	host := c.dest.origin.host
	a.tried.WriteString(host[:1])
	code := http.StatusOK
	if host == "c.test" {
		code = http.StatusServiceUnavailable
	}
	c.ex = exchange{resp: &http.Response{StatusCode: code, Body: http.NoBody}}
	return &c.ex, nil
}

// TestReviewHashPicksTranscript writes, for each policy, the origin
// the gate and the pick choose for many keys under random snapshots (admin
// states, forced health, weights, passive ejections, panic_threshold,
// backups, use_when_unhealthy) to the file BACKLINE_HASH_TRANSCRIPT
// names: run at two commits, the transcripts must be equal (a review's
// differential of the carried judgement against the judging it replaced).
// Without the variable it only checks that every request is answered or
// refused as unhealthy.
func TestReviewHashPicksTranscript(t *testing.T) {
	var out strings.Builder
	r := rand.New(rand.NewPCG(5, 6))
	pub := time.Now()
	policies := []string{"client_ip_hash", "header_hash\n      hash_key: X-Tenant", "cookie_hash\n      hash_key: lb",
		"round_robin", "weighted", "least_connections"}
	for _, policy := range policies {
		for round := range 60 {
			threshold := []int{0, 50, 100}[r.IntN(3)]
			origins := []string{"http://a.test", "{origin: \"http://b.test\", weight: 2}", "http://c.test", backupOrigin("http://d.test"), "{origin: \"http://e.test\", weight: 3}"}
			yml := originsYAML(fmt.Sprintf("      load_balancing: %s\n      panic_threshold: %d\n      beta_health: {}\n      retries: 2\n      retry_on: [\"503\"]\n", policy, threshold), origins...)
			useWhenUnhealthy := r.IntN(2) == 0
			if useWhenUnhealthy {
				yml = strings.Replace(yml, "        backend: api\n", "        backend:\n          label: api\n          use_when_unhealthy: true\n", 1)
			}
			cfg, err := config.Parse([]byte(yml))
			if err != nil {
				t.Fatal(err)
			}
			gw, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			src := &staticHealth{}
			gw.SetHealth(src)
			var grp health.Group
			for _, g := range gw.HealthGroups() {
				if g.Name == GroupPrefix+"api" {
					grp = g
				}
			}
			snap := &health.Snapshot{}
			for i, id := range grp.IDs {
				if r.IntN(8) == 0 {
					continue
				}
				e := health.Backend{ID: id, Group: grp.Name, Weight: r.IntN(4), Healthy: r.IntN(3) > 0, Backup: grp.Backups[i], PanicThreshold: threshold}
				e.Admin.State = []health.AdminState{health.AdminReady, health.AdminReady, health.AdminMaint, health.AdminDrain}[r.IntN(4)]
				e.Admin.Health = []health.ForcedHealth{health.HealthAuto, health.HealthAuto, health.HealthDown, health.HealthUp}[r.IntN(4)]
				if r.IntN(3) == 0 {
					e.EjectedUntil = pub.Add(time.Hour)
				}
				e.Eligible, e.Reason = health.Eligibility(e, pub)
				snap.Backends = append(snap.Backends, e)
			}
			src.snap.Store(snap)
			bv := gw.views["api"]
			var tried strings.Builder
			chain := &originsGateLayer{useWhenUnhealthy: useWhenUnhealthy, next: &balanceLayer{set: bv.rt.origins, next: hashDiffAnswer{&tried}}}
			fmt.Fprintf(&out, "%s round %d:", policy[:strings.IndexByte(policy+"\n", '\n')], round)
			for k := range 40 {
				req := httptest.NewRequest(http.MethodGet, "/x", nil)
				req.RemoteAddr = fmt.Sprintf("192.0.2.%d:4000", k)
				req.Header.Set("X-Tenant", fmt.Sprintf("tenant-%d", k))
				req.Header.Set("Cookie", fmt.Sprintf("lb=user-%d", k))
				up := &upstream{req: req}
				c := &call{g: gw, ctx: context.Background(), bv: bv, up: up}
				ex, gerr := chain.roundTrip(c)
				if gerr != nil {
					if gerr.kind != kindUnhealthy {
						t.Fatalf("%s round %d: %v", policy, round, gerr)
					}
					out.WriteString(" -" + tried.String())
					tried.Reset()
					continue
				}
				out.WriteString(" " + tried.String())
				tried.Reset()
				ex.done()
			}
			out.WriteString("\n")
			gw.Close()
		}
	}
	if path := os.Getenv("BACKLINE_HASH_TRANSCRIPT"); path != "" {
		if err := os.WriteFile(path, []byte(out.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
