package auth

import (
	"context"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// In a use_all panic the pool holds unhealthy primaries too. A drained
// backup's users go home only while a primary is eligible (docs/auth.md):
// with every primary down they stay on the healthy drained backup instead
// of being moved to, and stored on, a primary that failed its checks.
func TestStickyDrainedBackupKeptInUseAllPanic(t *testing.T) {
	mem := state.NewMemoryAffinityStore(0, nil)
	env := stickyEnv(t, mem, func(c *config.Config, _ *Options) {
		c.Auth.Nginx.Panic = config.Panic{Mode: config.PanicUseAll, BelowPercent: ptrInt(50)}
	})
	down := mailBackend("imap-a", "imap", "127.0.0.1", 1143, false)
	spare := mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)
	spare.Backup = true
	env.health.set(down, drained(spare))
	if err := mem.Set(context.Background(), alicesKey(), "imap-b", time.Hour); err != nil {
		t.Fatal(err)
	}
	sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: testUser, protocol: "imap"})
	if !sel.Panic {
		t.Fatalf("no panic: %+v", sel)
	}
	if sel.Backend == nil || sel.Backend.ID != "imap-b" {
		t.Fatalf("alice -> %+v (%s), want her drained backup imap-b", sel.Backend, sel.Reason())
	}
	if s := stored(t, mem, testUser, "imap"); s != "imap-b" {
		t.Errorf("stored %q, want imap-b kept", s)
	}
	// A new user gets the panic's pick, never the drained backup.
	if sel := env.h.settle(selectInput{snap: env.health.Snapshot(), user: "bob", protocol: "imap"}); sel.Backend == nil || sel.Backend.ID != "imap-a" {
		t.Errorf("bob -> %+v, want imap-a (use_all)", sel.Backend)
	}
}
