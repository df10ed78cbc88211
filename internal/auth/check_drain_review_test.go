package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
)

// checkDrained is b with its http check answering a drain_on_status
// status (reason check_drain), judged as the engine judges it.
func checkDrained(b health.Backend) health.Backend {
	b.CheckDrainStatus = 404
	b.Eligible, b.Reason, b.Draining = health.Assess(b, time.Now())
	return b
}

// A check-drained backend is treated like an admin-drained one on every
// endpoint: the users the sticky policy stored for it stay, new users go
// elsewhere, a filter may not send a new user there, and without any
// other backend a stored user still reaches it while a new one does not.
func TestReviewStickyCheckDrainLikeAdminDrain(t *testing.T) {
	for _, ds := range drainStores(t) {
		t.Run(ds.name, func(t *testing.T) {
			env := stickyEnv(t, ds.store, nil)
			a := mailBackend("imap-a", "imap", "127.0.0.1", 1143, true)
			b := mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)
			if cb := checkDrained(b); cb.Reason != health.ReasonCheckDrain || !cb.Draining {
				t.Fatalf("checkDrained: %q draining %v", cb.Reason, cb.Draining)
			}
			if err := ds.store.Set(context.Background(), alicesKey(), "imap-b", 15*time.Minute); err != nil {
				t.Fatal(err)
			}
			env.health.set(a, checkDrained(b))
			for _, ep := range endpoints {
				if got, code := endpointBackend(t, env, ep, testUser, testPassword, "imap"); got != "127.0.0.2:2143" {
					t.Errorf("%s: alice -> %s (%d), want her check-drained imap-b", ep, got, code)
				}
			}
			for n := range 20 {
				user := fmt.Sprintf("user%02d", n)
				sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: user, protocol: "imap"})
				if sel.Backend == nil || sel.Backend.ID != "imap-a" {
					t.Fatalf("new user %s -> %+v", user, sel.Backend)
				}
			}
			sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: "newbie", protocol: "imap",
				filterHost: "127.0.0.2", filterPort: 2143})
			if sel.Backend == nil || sel.Backend.ID != "imap-a" {
				t.Errorf("filter sent a new user to the check-drained backend: %+v", sel.Backend)
			}
			// Alone: the stored user is kept, a new one gets no backend.
			env.health.set(checkDrained(b))
			if sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: testUser, protocol: "imap"}); sel.Backend == nil || sel.Backend.ID != "imap-b" {
				t.Errorf("alone: alice -> %+v", sel.Backend)
			}
			if sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: "newbie2", protocol: "imap"}); sel.Backend != nil && sel.Backend.Host != "" {
				t.Errorf("alone: a new user -> %+v", sel.Backend)
			}
		})
	}
}
