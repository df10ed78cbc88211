package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// agentSays is b with its agent's admin word (and, with adminDrain, an
// operator's drain on top), judged as the engine judges it.
func agentSays(b health.Backend, word probe.AgentAdmin, adminDrain bool) health.Backend {
	b.Agent = &health.AgentStatus{Admin: word, Health: probe.AgentUp, WeightPercent: 100, MaxConn: -1}
	if adminDrain {
		b.Admin.State = health.AdminDrain
	}
	b.Eligible, b.Reason, b.Draining = health.Assess(b, time.Now())
	return b
}

// Review (branch h-agent): an agent's drain keeps the users the sticky
// policy stored for the backend and takes no new ones, a filter included;
// its maint keeps nobody, also under an operator's drain.
func TestReviewStickyAgentDrainAndMaint(t *testing.T) {
	for _, tc := range []struct {
		name       string
		word       probe.AgentAdmin
		adminDrain bool
		keepsAlice bool
	}{
		{"agent drain", probe.AgentDrain, false, true},
		{"agent maint", probe.AgentMaint, false, false},
		{"operator drain, agent maint", probe.AgentMaint, true, false},
		{"operator drain, agent drain", probe.AgentDrain, true, true},
	} {
		for _, ds := range drainStores(t) {
			t.Run(tc.name+"/"+ds.name, func(t *testing.T) {
				env := stickyEnv(t, ds.store, nil)
				a := mailBackend("imap-a", "imap", "127.0.0.1", 1143, true)
				b := agentSays(mailBackend("imap-b", "imap", "127.0.0.2", 2143, true), tc.word, tc.adminDrain)
				if err := ds.store.Set(context.Background(), alicesKey(), "imap-b", 15*time.Minute); err != nil {
					t.Fatal(err)
				}
				env.health.set(a, b)
				want := "127.0.0.1:1143"
				if tc.keepsAlice {
					want = "127.0.0.2:2143"
				}
				for _, ep := range endpoints {
					if got, code := endpointBackend(t, env, ep, testUser, testPassword, "imap"); got != want {
						t.Errorf("%s: alice -> %s (%d), want %s", ep, got, code, want)
					}
				}
				for n := range 10 {
					sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: fmt.Sprintf("user%02d", n), protocol: "imap"})
					if sel.Backend == nil || sel.Backend.ID != "imap-a" {
						t.Fatalf("new user -> %+v", sel.Backend)
					}
				}
				sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: "newbie", protocol: "imap",
					filterHost: "127.0.0.2", filterPort: 2143})
				if sel.Backend == nil || sel.Backend.ID != "imap-a" {
					t.Errorf("a filter sent a new user to the agent's backend: %+v", sel.Backend)
				}
			})
		}
	}
}
