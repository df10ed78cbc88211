package auth

import (
	"fmt"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// Draining backends for maintenance is a decision about capacity, not a
// health failure: with fail_closed and below_percent 50, draining three of
// four IMAP servers must send every login to the fourth, not tempfail
// every login (it did: 1 of 4 "eligible" counted as a panic).
func TestPanicIgnoresBackendsTakenOutByTheOperator(t *testing.T) {
	for _, mode := range []string{config.PanicFailClosed, config.PanicUseAll} {
		t.Run(mode, func(t *testing.T) {
			env := newEnv(t, func(c *config.Config, _ *Options) {
				pct := 50
				c.Auth.Nginx.Panic = config.Panic{Mode: mode, BelowPercent: &pct}
			})
			zero := mailBackend("imap-d", "imap", "127.0.0.4", 4143, true)
			zero.Weight = 0
			zero.Eligible, zero.Reason = health.Eligibility(zero, zero.Since)
			env.health.set(
				mailBackend("imap-a", "imap", "127.0.0.1", 1143, true),
				drained(mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)),
				inState(mailBackend("imap-c", "imap", "127.0.0.3", 3143, true), health.AdminMaint, health.HealthAuto),
				zero,
			)
			for _, ep := range endpoints {
				if got, code := endpointBackend(t, env, ep, testUser, testPassword, "imap"); code != 200 || got != "127.0.0.1:1143" {
					t.Errorf("%s: 3 of 4 taken out by the operator, 1 healthy: got %q (%d), want imap-a", ep, got, code)
				}
			}
			if got := counterValue(t, env.h.metrics.panic); got != 0 {
				t.Errorf("backline_selection_panic_total = %v, want 0", got)
			}
		})
	}
}

// Health failures still count: 1 healthy, 1 unhealthy, 1 forced down and
// 1 drained is 1 of 3 in service, below 50 %.
func TestPanicCountsHealthFailuresAndForcedDown(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		pct := 50
		c.Auth.Nginx.Panic = config.Panic{BelowPercent: &pct}
	})
	env.health.set(
		mailBackend("imap-a", "imap", "127.0.0.1", 1143, true),
		mailBackend("imap-b", "imap", "127.0.0.2", 2143, false),
		inState(mailBackend("imap-c", "imap", "127.0.0.3", 3143, true), health.AdminReady, health.HealthDown),
		drained(mailBackend("imap-d", "imap", "127.0.0.4", 4143, true)),
	)
	if got, code := endpointBackend(t, env, "nginx", testUser, testPassword, "imap"); code != 500 {
		t.Errorf("1 of 3 in service with fail_closed below 50%%: got %q (%d), want a tempfail", got, code)
	}
	// Back to 2 of 3 (the drained one still does not count): no panic.
	env.health.set(
		mailBackend("imap-a", "imap", "127.0.0.1", 1143, true),
		mailBackend("imap-b", "imap", "127.0.0.2", 2143, true),
		inState(mailBackend("imap-c", "imap", "127.0.0.3", 3143, true), health.AdminReady, health.HealthDown),
		drained(mailBackend("imap-d", "imap", "127.0.0.4", 4143, true)),
	)
	if got, code := endpointBackend(t, env, "nginx", testUser, testPassword, "imap"); code != 200 {
		t.Errorf("2 of 3 in service: got %q (%d), want a backend", got, code)
	}
}

// A filter that names a drained target in another spelling (an IPv6
// address written out, a host name in other case or with the root dot)
// must not route around the drain: the same backend, the same rule.
func TestFilterSpellingOfADrainedTargetDoesNotBypassTheDrain(t *testing.T) {
	cases := []struct{ target, filter string }{
		{"::1", "0:0:0:0:0:0:0:1"},
		{"2001:db8::5", "2001:DB8:0::5"},
		{"::ffff:127.0.0.9", "127.0.0.9"},
		{"mbox-a.example.org", "MBOX-A.Example.ORG"},
		{"mbox-a.example.org", "mbox-a.example.org."},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			filters := &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) {
				return &filterOutcome{SelectedHost: tc.filter, SelectedPort: 1143, SelectedBy: "route"}, nil
			}}
			env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = filters })
			env.health.set(
				drained(mailBackend("imap-a", "imap", tc.target, 1143, true)),
				mailBackend("imap-b", "imap", "127.0.0.2", 2143, true),
			)
			for _, ep := range []string{"header", "json"} {
				if got, code := endpointBackend(t, env, ep, testUser, testPassword, "imap"); code != 200 || got != "127.0.0.2:2143" {
					t.Errorf("%s: filter chose drained %s as %q: got %q (%d), want the policy's imap-b", ep, tc.target, tc.filter, got, code)
				}
			}
		})
	}
}

// One mailbox, one backend: "Alice@Example.COM" from a phone and
// "alice@example.com" from a laptop are the same IMAP user (LDAP and
// Dovecot compare names without case; Dovecot's director hashes %Lu), so
// user_hash must send both to the same server. Two servers writing one
// mailbox's index at once corrupt it.
func TestUserHashIgnoresTheCaseOfTheUserName(t *testing.T) {
	cands := candidatesOf(1, 1, 1, 1, 1, 1, 1, 1)
	p := newPolicy(config.PolicyUserHash)
	moved := 0
	for i := range 2000 {
		lower := fmt.Sprintf("user%d@example.com", i)
		upper := fmt.Sprintf("User%d@Example.COM", i)
		if p.pick(lower, cands, poolOf(8), false) != p.pick(upper, cands, poolOf(8), false) {
			moved++
		}
	}
	if moved > 0 {
		t.Errorf("%d of 2000 users land on another backend when they type their name in other case", moved)
	}
	// Lower-case names keep their backend (no move on upgrade for them).
	want := []string{"imap-03", "imap-02", "imap-00", "imap-03", "imap-00"}
	for i, u := range []string{"alice", "bob", "carol", "dave", "erin"} {
		if got := cands[p.pick(u, cands[:4], poolOf(4), false)].ID; got != want[i] {
			t.Errorf("%s -> %s, want %s", u, got, want[i])
		}
	}
}

// Smooth weighted round robin keeps one running value per backend ID; its
// map was cleared whenever it held more than 4,096 IDs. With more
// backends than that in use (three protocols of 1,500 mailbox servers)
// it was cleared on nearly every pick and each pick started from zero: the
// first backend of the list took every login.
func TestWeightedRoundRobinWithManyBackendsStillRotates(t *testing.T) {
	p := newPolicy(config.PolicyWeightedRoundRobin)
	protos := []string{"imap", "pop3", "lmtp"}
	const n = 1500
	cands := map[string][]Candidate{}
	for _, proto := range protos {
		for i := range n {
			cands[proto] = append(cands[proto], Candidate{ID: fmt.Sprintf("%s-%04d", proto, i), Weight: 1, Eligible: true})
		}
	}
	pool := poolOf(n)
	seen := map[string]int{}
	for range n {
		for _, proto := range protos {
			seen[cands[proto][p.pick("", cands[proto], pool, false)].ID]++
		}
	}
	if len(seen) != 3*n {
		t.Errorf("%d picks reached %d backends, want each of the %d once", 3*n, len(seen), 3*n)
	}
}

// IDs a reload removed still leave the map.
func TestWeightedRoundRobinForgetsRemovedBackends(t *testing.T) {
	p := newPolicy(config.PolicyWeightedRoundRobin).(*weightedRoundRobin)
	var old []Candidate
	for i := range 2 * wrrMaxStale {
		old = append(old, Candidate{ID: fmt.Sprintf("old-%d", i), Weight: 1, Eligible: true})
	}
	p.pick("", old, poolOf(len(old)), false)
	now := candidatesOf(1, 1)
	for range 2*wrrMaxStale + 1 {
		p.pick("", now, poolOf(2), false)
	}
	if n := len(p.current); n > 2 {
		t.Errorf("%d IDs kept after the old backends went away, want 2", n)
	}
}
