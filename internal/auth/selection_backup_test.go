package auth

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/state"
)

func asBackup(b health.Backend) health.Backend {
	b.Backup = true
	return b
}

func down(b health.Backend) health.Backend {
	b.Healthy = false
	b.Eligible, b.Reason = health.Eligibility(b, time.Now())
	return b
}

// backupSet is two primaries and two backups of imap.
type backupSet struct{ pa, pb, ba, bb health.Backend }

func newBackupSet() backupSet {
	return backupSet{
		pa: mailBackend("pa", "imap", "127.0.0.1", 1143, true),
		pb: mailBackend("pb", "imap", "127.0.0.2", 2143, true),
		ba: asBackup(mailBackend("ba", "imap", "127.0.0.3", 3143, true)),
		bb: asBackup(mailBackend("bb", "imap", "127.0.0.4", 4143, true)),
	}
}

var allPolicies = []string{config.PolicyFirst, config.PolicyRoundRobin, config.PolicyUserHash,
	config.PolicyWeightedRoundRobin, config.PolicySticky}

func policyEnv(t testing.TB, policy string) *testEnv {
	t.Helper()
	return newEnv(t, func(c *config.Config, o *Options) {
		c.Auth.Nginx.DefaultPolicy = policy
		if policy == config.PolicySticky {
			o.Affinity = state.NewMemoryAffinityStore(0, nil)
		}
	})
}

// pickAll settles n logins (users u0..u<n-1>) and counts the chosen IDs.
func pickAll(t *testing.T, env *testEnv, n int) (map[string]int, []*Selection) {
	t.Helper()
	seen := map[string]int{}
	var sels []*Selection
	for i := range n {
		sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: fmt.Sprintf("u%d", i), protocol: "imap"})
		if sel.Status != selOK {
			t.Fatalf("login %d: %s (%s)", i, sel.Status, sel.Reason())
		}
		seen[sel.Backend.ID]++
		sels = append(sels, sel)
	}
	return seen, sels
}

// Primaries eligible: no policy ever picks a backup, and nothing says so.
func TestBackupUnusedWhilePrimariesAreEligible(t *testing.T) {
	for _, policy := range allPolicies {
		t.Run(policy, func(t *testing.T) {
			env := policyEnv(t, policy)
			s := newBackupSet()
			env.health.set(s.ba, s.pa, s.bb, s.pb) // backups first in the list: order does not matter
			seen, sels := pickAll(t, env, 64)
			if seen["ba"]+seen["bb"] != 0 {
				t.Errorf("a backup was chosen with primaries eligible: %v", seen)
			}
			for _, sel := range sels {
				if sel.Backup || sel.Reason() != "" {
					t.Fatalf("backup %v, reason %q", sel.Backup, sel.Reason())
				}
			}
		})
	}
}

// All primaries out (one unhealthy, one drained): the policy shares the
// logins among the backups, and the selection says why.
func TestBackupsShareWhenNoPrimaryIsEligible(t *testing.T) {
	for _, policy := range allPolicies {
		t.Run(policy, func(t *testing.T) {
			env := policyEnv(t, policy)
			s := newBackupSet()
			env.health.set(down(s.pa), drained(s.pb), s.ba, s.bb)
			seen, sels := pickAll(t, env, 64)
			if seen["pa"]+seen["pb"] != 0 || seen["ba"]+seen["bb"] != 64 {
				t.Fatalf("picks %v", seen)
			}
			if policy == config.PolicyFirst {
				if seen["ba"] != 64 {
					t.Errorf("first: %v, want every login on ba", seen)
				}
			} else if seen["ba"] == 0 || seen["bb"] == 0 {
				t.Errorf("%s did not share over the backups: %v", policy, seen)
			}
			sel := sels[0]
			want := fmt.Sprintf(`backup %s chosen: no primary "imap" backend is eligible (pa: unhealthy, pb: drain)`, sel.Backend.ID)
			if !sel.Backup || !strings.Contains(sel.Reason(), want) {
				t.Errorf("backup %v, reason %q, want %q", sel.Backup, sel.Reason(), want)
			}
		})
	}
}

// A primary that recovers takes its logins back at once, and user_hash and
// sticky send each user where they were before the outage.
func TestPrimaryRecoveryEndsFailover(t *testing.T) {
	for _, policy := range []string{config.PolicyUserHash, config.PolicySticky} {
		t.Run(policy, func(t *testing.T) {
			env := policyEnv(t, policy)
			s := newBackupSet()
			env.health.set(s.pa, s.pb, s.ba, s.bb)
			_, before := pickAll(t, env, 64)
			env.health.set(down(s.pa), down(s.pb), s.ba, s.bb)
			during, _ := pickAll(t, env, 64)
			if during["pa"]+during["pb"] != 0 {
				t.Fatalf("outage picks %v", during)
			}
			env.health.set(s.pa, s.pb, s.ba, s.bb)
			after, sels := pickAll(t, env, 64)
			if after["ba"]+after["bb"] != 0 {
				t.Fatalf("after recovery %v", after)
			}
			for i := range sels {
				if sels[i].Backend.ID != before[i].Backend.ID {
					t.Errorf("u%d: %s before the outage, %s after", i, before[i].Backend.ID, sels[i].Backend.ID)
				}
			}
			if policy == config.PolicySticky {
				if a := sels[0].Affinity; a == nil || !strings.Contains(a.Reason, "is a backup and a primary is eligible") {
					t.Errorf("affinity %+v", a)
				}
			}
		})
	}
}

// One primary of two recovers: every login goes to it, none to a backup.
func TestOnePrimaryBackIsEnough(t *testing.T) {
	env := policyEnv(t, config.PolicyRoundRobin)
	s := newBackupSet()
	env.health.set(s.pa, down(s.pb), s.ba, s.bb)
	if seen, _ := pickAll(t, env, 16); seen["pa"] != 16 {
		t.Errorf("picks %v, want all on pa", seen)
	}
}

// user_hash over the primaries ignores the backups: adding backup targets
// moves no user.
func TestUserHashStableWithinPrimaries(t *testing.T) {
	env := policyEnv(t, config.PolicyUserHash)
	s := newBackupSet()
	env.health.set(s.pa, s.pb)
	_, without := pickAll(t, env, 200)
	env.health.set(s.pa, s.ba, s.pb, s.bb)
	_, with := pickAll(t, env, 200)
	for i := range with {
		if with[i].Backend.ID != without[i].Backend.ID {
			t.Fatalf("u%d moved from %s to %s when backups were added", i, without[i].Backend.ID, with[i].Backend.ID)
		}
	}
}

// Panic: a healthy backup tier counts, so primaries all down do not put
// fail_closed into panic; with backups down too nothing is eligible.
func TestBackupsAndPanic(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Nginx.Panic = config.Panic{BelowPercent: ptrInt(50)}
	})
	s := newBackupSet()
	env.health.set(down(s.pa), down(s.pb), s.ba, s.bb)
	sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: testUser, protocol: "imap", dry: true})
	if sel.Status != selOK || sel.Panic || !sel.Backup {
		t.Fatalf("primaries down, backups up: %s panic %v backup %v (%s)", sel.Status, sel.Panic, sel.Backup, sel.Reason())
	}
	// 1 of 4 primaries and 0 of 1 backup: 25 % < 50 %, fail_closed.
	env.health.set(s.pa, down(s.pb), down(mailBackend("pc", "imap", "127.0.0.5", 5143, true)),
		down(mailBackend("pd", "imap", "127.0.0.6", 6143, true)), down(s.ba))
	sel = env.h.settle(selectInput{snap: env.health.Snapshot(), user: testUser, protocol: "imap", dry: true})
	if sel.Status != selTempfail || !strings.Contains(sel.Reason(), "1 of 4 primary and 0 of 1 backup") {
		t.Errorf("status %s reason %q", sel.Status, sel.Reason())
	}
	env.health.set(down(s.pa), down(s.pb), down(s.ba), down(s.bb))
	sel = env.h.settle(selectInput{snap: env.health.Snapshot(), user: testUser, protocol: "imap", dry: true})
	if sel.Status != selNoBackend {
		t.Errorf("everything down: %s (%s)", sel.Status, sel.Reason())
	}
}

// use_all with nothing eligible widens to the unhealthy primaries first.
func TestPanicUseAllPrefersPrimaries(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Nginx.Panic = config.Panic{Mode: config.PanicUseAll, BelowPercent: ptrInt(50)}
		c.Auth.Nginx.DefaultPolicy = config.PolicyRoundRobin
	})
	s := newBackupSet()
	env.health.set(down(s.pa), down(s.pb), down(s.ba), down(s.bb))
	seen, _ := pickAll(t, env, 8)
	if seen["pa"] != 4 || seen["pb"] != 4 {
		t.Errorf("use_all picks %v, want the primaries only", seen)
	}
	// Primaries drained (never usable), backups unhealthy: the backups.
	env.health.set(drained(s.pa), drained(s.pb), down(s.ba), down(s.bb))
	if seen, _ := pickAll(t, env, 8); seen["ba"] == 0 || seen["bb"] == 0 {
		t.Errorf("use_all over backups: %v", seen)
	}
}

// A group of backups only: they serve as ordinary targets, and the
// explanation says there is no primary.
func TestOnlyBackups(t *testing.T) {
	env := policyEnv(t, config.PolicyFirst)
	s := newBackupSet()
	env.health.set(s.ba, s.bb)
	sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: testUser, protocol: "imap"})
	if sel.Status != selOK || sel.Backend.ID != "ba" || !strings.Contains(sel.Reason(), `every "imap" backend is a backup`) {
		t.Errorf("%s %+v %q", sel.Status, sel.Backend, sel.Reason())
	}
}

// A filter may choose a backup (scripts own their choice); the selection
// still names it.
func TestFilterChoosingABackup(t *testing.T) {
	filters := &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) {
		return &filterOutcome{SelectedHost: "127.0.0.3", SelectedPort: 3143, SelectedBy: "route"}, nil
	}}
	env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = filters })
	s := newBackupSet()
	env.health.set(s.pa, s.pb, s.ba, s.bb)
	got, _ := endpointBackend(t, env, "nginx", testUser, testPassword, "imap")
	if got != "127.0.0.3:3143" {
		t.Fatalf("filter's backup not taken: %s", got)
	}
	if !strings.Contains(env.logs.String(), "backup=true") {
		t.Errorf("log line lacks backup=true:\n%s", env.logs.String())
	}
	sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: testUser, protocol: "imap",
		filterHost: "127.0.0.3", filterPort: 3143, filterName: "route", dry: true})
	if !sel.Backup || sel.Reason() != "filter:route chose backup ba" {
		t.Errorf("backup %v reason %q", sel.Backup, sel.Reason())
	}
}

// Explain shows the flag per candidate and on the answer.
func TestExplainShowsBackup(t *testing.T) {
	env := policyEnv(t, config.PolicyFirst)
	s := newBackupSet()
	env.health.set(down(s.pa), s.ba)
	ans, w := env.explain(`{"username":"alice","protocol":"imap"}`)
	if w.Code != 200 {
		t.Fatalf("explain %d: %s", w.Code, w.Body)
	}
	if !ans.Backup || len(ans.Candidates) != 2 || ans.Candidates[0].Backup || !ans.Candidates[1].Backup ||
		!strings.Contains(ans.Reason, "backup ba chosen") {
		t.Errorf("explain %+v", ans)
	}
	if !strings.Contains(w.Body.String(), `"backup": true`) {
		t.Errorf("body %s", w.Body)
	}
}

// The backup explanation is built when read, from the selection's own
// candidates: a real login and a dry run give the same text, and it
// follows an overridden filter's reason.
func TestBackupReasonAfterOverriddenFilter(t *testing.T) {
	env := policyEnv(t, config.PolicyFirst)
	s := newBackupSet()
	env.health.set(drained(s.pa), down(s.pb), s.ba, s.bb)
	in := selectInput{snap: env.health.Snapshot(), user: testUser, protocol: "imap",
		filterHost: "127.0.0.1", filterPort: 1143, filterName: "route"}
	real := env.h.settle(in)
	in.dry = true
	dry := env.h.settle(in)
	want := `filter:route selected pa, which is not eligible (drain); the policy decided; ` +
		`backup ba chosen: no primary "imap" backend is eligible (pa: drain, pb: unhealthy)`
	for name, sel := range map[string]*Selection{"real": real, "dry": dry} {
		if !sel.Backup || sel.Backend.ID != "ba" || sel.Reason() != want {
			t.Errorf("%s: backup %v %+v reason %q", name, sel.Backup, sel.Backend, sel.Reason())
		}
	}
}

// The backend_login password database logs in to a backup only while no
// primary of the protocol is eligible, even when the backup is listed
// first.
func TestBackendLoginPrefersPrimaries(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Passdb = append(c.Auth.Passdb, config.Passdb{Type: config.PassdbBackendLogin})
		c.Auth.Cache.TTL = new(time.Duration)
	})
	env.checker.password = "remote-pass"
	s := newBackupSet()
	for _, tc := range []struct {
		backends []health.Backend
		want     int
	}{
		{[]health.Backend{s.ba, s.pa, s.pb}, 1143},
		{[]health.Backend{s.ba, down(s.pa), s.pb}, 2143},
		{[]health.Backend{s.ba, down(s.pa), drained(s.pb)}, 3143},
	} {
		env.health.set(tc.backends...)
		n := len(env.checker.calls)
		if w := env.do(nginxRequest("carol", "remote-pass", "imap", "1")); w.Header().Get("Auth-Status") != "OK" {
			t.Fatalf("carol via backend login: %v", w.Header())
		}
		var ports []int // ports only: the calls carry the user's password
		for _, c := range env.checker.calls[n:] {
			ports = append(ports, c.Port)
		}
		if len(ports) != 1 || ports[0] != tc.want {
			t.Errorf("backend login went to ports %v, want %d", ports, tc.want)
		}
	}
}

// BenchmarkSelectionFailover is the per-login cost of settling a selection
// during a failover: ten IMAP primaries unhealthy, two backups eligible,
// user_hash. Each login picks a backup, and the explanation of why names
// all ten primaries.
func BenchmarkSelectionFailover(b *testing.B) {
	env := policyEnv(b, config.PolicyUserHash)
	var bs []health.Backend
	for i := range 10 {
		bs = append(bs, down(mailBackend(fmt.Sprintf("imap-%d", i), "imap", fmt.Sprintf("127.0.0.%d", i+1), 143, true)))
	}
	bs = append(bs, asBackup(mailBackend("spare-a", "imap", "127.0.1.1", 143, true)),
		asBackup(mailBackend("spare-b", "imap", "127.0.1.2", 143, true)))
	env.health.set(bs...)
	req := &Request{Username: "user@example.org", Protocol: "imap"}
	b.ReportAllocs()
	for b.Loop() {
		req.snap = env.h.snapshot()
		d := &decision{outcome: outcomeOK}
		env.h.settleRequest("nginx", req, d, "")
		if d.sel.Status != selOK || !d.sel.Backup {
			b.Fatal(d.sel.Status)
		}
	}
}
