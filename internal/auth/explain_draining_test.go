package auth

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/state"
)

// explain marks a drained candidate that still serves its stored users as
// draining (in its JSON too); maintenance is not draining.
func TestExplainShowsDraining(t *testing.T) {
	mem := state.NewMemoryAffinityStore(0, nil)
	env := stickyEnv(t, mem, nil)
	if err := mem.Set(context.Background(), state.AffinityKey{User: testUser, Protocol: "imap"}, "imap-b", time.Hour); err != nil {
		t.Fatal(err)
	}
	a := mailBackend("imap-a", "imap", "127.0.0.1", 1143, true)
	b := mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)
	req := &Request{Username: testUser, Protocol: "imap", Service: "nginx"}
	draining := func(ans explainAnswer) map[string]bool {
		out := map[string]bool{}
		for _, c := range ans.Candidates {
			out[c.ID] = c.Draining
		}
		return out
	}

	env.health.set(a, drained(b))
	ans := env.h.explain(context.Background(), req)
	if got := draining(ans); !got["imap-b"] || got["imap-a"] {
		t.Errorf("drained imap-b: draining %v", got)
	}
	doc, err := json.Marshal(ans)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), `"id":"imap-b","host":"127.0.0.2","port":2143,"eligible":false,"reason":"drain"`) ||
		!strings.Contains(string(doc), `"draining":true`) {
		t.Errorf("explain JSON: %s", doc)
	}

	env.health.set(a, inState(b, health.AdminMaint, health.HealthAuto))
	if got := draining(env.h.explain(context.Background(), req)); got["imap-b"] {
		t.Errorf("maintenance reads as draining: %v", got)
	}
}
