package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// ctl show reads the agent fields of the status API: what the agent asks
// for, its last line, its failures; a backend without one shows no rows.
func TestCtlShowsAgent(t *testing.T) {
	body := `{"id":"mbox01","group":"backend_health_checks","protocol":"imap","host":"10.0.0.11","port":143,
		"healthy":true,"eligible":false,"reason":"agent_drain","draining":true,"weight":5,
		"admin":{"state":"ready","weight":10,"health":"auto","source":"config"},
		"agent":{"address":"10.0.0.11:9999","admin":"drain","health":"up","description":"disk\u001b[2J swap",
		"weight_percent":50,"maxconn":30,"last_reply":"drain 50% maxconn:30 bogus # disk?[2J swap",
		"last_unknown_word":"bogus","last_check":"2026-12-04T23:00:00Z","consecutive_failures":0,
		"since":"2026-12-04T22:59:00Z"}}`
	var b ctlBackend
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	c := &ctlClient{stdout: &out}
	c.printBackend(b)
	got := out.String()
	for _, want := range []string{
		`draining:       yes since 2026-12-04T22:59:00Z: its agent answers drain (disk\x1b[2J swap); no new users until it answers ready`,
		`agent:          drain, up, weight 50% (effective 5 of 10), maxconn 30 (not enforced) since 2026-12-04T22:59:00Z: disk\x1b[2J swap (10.0.0.11:9999)`,
		`agent reply:    "drain 50% maxconn:30 bogus # disk?[2J swap" at 2026-12-04T23:00:00Z (unknown word "bogus" ignored)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\x1b") {
		t.Errorf("control character reached the terminal:\n%q", got)
	}

	b.Agent.LastError, b.Agent.ConsecutiveFailures = "agent 10.0.0.11:9999: connect: connection refused", 4
	out.Reset()
	c.printBackend(b)
	if !strings.Contains(out.String(), "agent failing:  4 in a row, the backend keeps what the agent said last; last at 2026-12-04T23:00:00Z: agent 10.0.0.11:9999: connect: connection refused") {
		t.Errorf("failing agent:\n%s", out.String())
	}

	b.Agent = nil
	out.Reset()
	c.printBackend(b)
	if strings.Contains(out.String(), "agent") && !strings.Contains(out.String(), "its agent") {
		t.Errorf("backend without an agent shows agent rows:\n%s", out.String())
	}
}

func TestCtlListAgentCell(t *testing.T) {
	c := &ctlClient{}
	b := ctlBackend{ID: "mbox01", Reason: "agent_drain", Draining: true, Admin: &ctlAdmin{State: "ready"}, Agent: &ctlAgent{Admin: "drain"}}
	if got := c.ctlListAdminCell(b); got != "ready, agent drain" {
		t.Errorf("agent drain cell %q", got)
	}
	b.Admin.State, b.Reason = "drain", "drain"
	if got := c.ctlListAdminCell(b); got != "draining, agent drain" {
		t.Errorf("admin and agent drain cell %q", got)
	}
	if r := ctlProblemRank(ctlBackend{Reason: "agent_maint", Eligible: new(bool)}); r != 1 {
		t.Errorf("agent_maint rank %d, want 1 (an admin-like reason)", r)
	}
}
