package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/server/statuspagefake"
)

func agentStatus() *health.AgentStatus {
	at := time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	return &health.AgentStatus{Address: "10.0.0.5:9999", Admin: probe.AgentDrain, Health: probe.AgentUp,
		Description: "disk swap", WeightPercent: 50, MaxConn: -1, LastReply: "drain 50% # disk swap",
		LastCheck: at, LastSuccess: at, Since: at.Add(-time.Minute)}
}

func TestBackendViewAgent(t *testing.T) {
	b := health.Backend{ID: "mbox01", Group: health.GroupMail, Healthy: true, Reason: health.ReasonAgentDrain,
		Draining: true, Weight: 5, Admin: health.Admin{State: health.AdminReady, Weight: 10}, Agent: agentStatus()}
	out, err := json.Marshal(viewBackend(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"reason":"agent_drain"`, `"draining":true`, `"weight":5`, `"weight":10`,
		`"agent":{"address":"10.0.0.5:9999","admin":"drain","health":"up","description":"disk swap","weight_percent":50,` +
			`"last_reply":"drain 50% # disk swap","last_check":"2026-12-04T23:00:00Z","last_success":"2026-12-04T23:00:00Z",` +
			`"consecutive_failures":0,"since":"2026-12-04T22:59:00Z"}`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %s in %s", want, out)
		}
	}
	a := agentStatus()
	a.MaxConn, a.LastSuccess, a.LastError, a.ConsecutiveFailures = 30, time.Time{}, "agent 10.0.0.5:9999: connect: connection refused", 2
	out, _ = json.Marshal(viewAgent(a))
	for _, want := range []string{`"maxconn":30`, `"last_error":"agent 10.0.0.5:9999: connect: connection refused"`, `"consecutive_failures":2`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %s in %s", want, out)
		}
	}
	if strings.Contains(string(out), "last_reply") {
		t.Errorf("last_reply before any line: %s", out)
	}
	plain, _ := json.Marshal(viewBackend(health.Backend{ID: "x"}))
	if strings.Contains(string(plain), "agent") {
		t.Errorf("backend without an agent shows agent fields: %s", plain)
	}
}

func TestStatusPageAgentRows(t *testing.T) {
	target := statuspagefake.Target("mbox01", "imap", "10.0.0.5", 143, false)
	for _, tc := range []struct {
		name    string
		set     func(b *health.Backend)
		state   string
		detail  string
		inState string
	}{
		{"drain", func(b *health.Backend) {
			b.Eligible, b.Reason, b.Draining, b.Agent = false, health.ReasonAgentDrain, true, agentStatus()
		}, "draining", "agent drain 50%: disk swap", "5m"},
		{"maint", func(b *health.Backend) {
			a := agentStatus()
			a.Admin, a.WeightPercent, a.Description = probe.AgentMaint, 100, ""
			b.Eligible, b.Reason, b.Agent = false, health.ReasonAgentMaint, a
		}, "maint", "agent maint", "5m"},
		{"down, not answering", func(b *health.Backend) {
			a := agentStatus()
			a.Admin, a.Health, a.WeightPercent, a.Description = probe.AgentReady, probe.AgentStopped, 100, "upgrade"
			a.LastError, a.ConsecutiveFailures = "agent 10.0.0.5:9999: connect: connection refused", 3
			b.Eligible, b.Reason, b.Agent = false, health.ReasonAgentDown, a
		}, "down", "agent stopped: upgrade; agent not answering (3x)", "5m"},
		{"all well", func(b *health.Backend) {
			a := agentStatus()
			a.Admin, a.WeightPercent = probe.AgentReady, 100
			b.Agent = a
		}, "up", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := statuspagefake.Healthy(target, health.GroupMail, pageNow)
			tc.set(&b)
			if b.Agent != nil {
				b.Agent.Since = pageNow.Add(-5 * time.Minute)
			}
			row := buildRow(b, pageAdmin{State: "ready"}, pageNow)
			if row.State != tc.state || !strings.HasSuffix(row.Detail, tc.detail) || (tc.detail == "" && strings.Contains(row.Detail, "agent")) {
				t.Errorf("row: state %q detail %q, want %q ending in %q", row.State, row.Detail, tc.state, tc.detail)
			}
			if tc.inState != "" && row.InState != tc.inState {
				t.Errorf("in state %q, want %q (the agent's since)", row.InState, tc.inState)
			}
		})
	}
}
