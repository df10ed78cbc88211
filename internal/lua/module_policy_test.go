package lua

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// Tests for nauthilus_policy and nauthilus_policy_facts: the Lua scripts
// testdata/modules/policy_*.lua run through the real engine (compile,
// pooled state, sandbox, per-run binding) and assert inside; these tests
// check what only the host sees (log fields, status message, errors).

// policyEngine is an engine whose filters are the named scripts under
// testdata/modules, in that order.
func policyEngine(t *testing.T, filters ...string) *Engine {
	t.Helper()
	var fs []config.LuaFilter
	for _, name := range filters {
		fs = append(fs, config.LuaFilter{Name: strings.TrimSuffix(name, ".lua"), ScriptPath: policyScript(t, name)})
	}
	e, err := NewEngine(Options{Config: config.Lua{Filters: fs, Config: config.LuaConfig{ScriptTimeout: 10 * time.Second, VMPoolSize: 2}},
		Logger: newTestLogger(&syncBuffer{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func policyScript(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "modules", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyEmitInFilter(t *testing.T) {
	e := policyEngine(t, "policy_emit.lua")
	// Twice: the second run is on a pooled state, with the module proxies
	// rebound.
	for i := range 2 {
		out, err := e.RunFilters(context.Background(), &Request{Username: "alice", Password: "pw", Protocol: "imap"})
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if out.Reject || len(out.Logs) != 0 || out.StatusMessage != "" {
			t.Errorf("run %d: emitting changed the outcome: %+v", i, out)
		}
	}
}

func TestPolicyPlaceholderInPasswordScript(t *testing.T) {
	e := policyEngine(t)
	ps, err := e.NewPasswordScript(policyScript(t, "policy_password_placeholder.lua"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := ps.Verify(context.Background(), &Request{Username: "alice", Password: "pw", Protocol: "imap"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Authenticated {
		t.Errorf("result %+v", res)
	}
}

func TestPolicyFactsInFilter(t *testing.T) {
	e := policyEngine(t, "policy_facts.lua")
	const password = "192.0.2.10" // equal to a public fact: redacted in the log field
	out, err := e.RunFilters(context.Background(), &Request{Username: "alice", Password: password, Protocol: "imap"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range out.Logs {
		got = append(got, fmt.Sprintf("%s=%v", l.Key, l.Value))
	}
	want := []string{
		"policy_fact_monitoring_healthy=2",
		"policy_fact_monitoring_only_logged=yes",
		"policy_fact_monitoring_server=<redacted>",
		"policy_fact_affinity_source=redis",
		"policy_fact_geo_1=first",
		"policy_fact_geo_country=DE",
	}
	if !slices.Equal(got, want) {
		t.Errorf("log fields\n got %q\nwant %q", got, want)
	}
	if out.StatusMessage != "Backend chosen" {
		t.Errorf("status message %q", out.StatusMessage)
	}
	for _, l := range out.Logs {
		if strings.Contains(fmt.Sprint(l.Value), password) {
			t.Errorf("log field %s carries the password", l.Key)
		}
	}
}

// TestPolicyFactsFromPasswordScriptToFilter: the facts a Lua password
// script records are in the context the request's filters read.
func TestPolicyFactsFromPasswordScriptToFilter(t *testing.T) {
	e := policyEngine(t, "policy_facts_reader.lua")
	ps, err := e.NewPasswordScript(policyScript(t, "policy_facts_password.lua"))
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{Username: "alice", Password: "pw", Protocol: "imap"}
	if _, err := ps.Verify(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RunFilters(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	// A new request starts without them.
	if _, err := e.RunFilters(context.Background(), &Request{Username: "alice", Password: "pw", Protocol: "imap"}); err == nil ||
		!strings.Contains(err.Error(), "no facts from the password script") {
		t.Errorf("a fresh request saw the last one's facts (err %v)", err)
	}
}

func writePolicyTestScript(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
