package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/server/statuspagefake"
)

// Review (branch h-agent): an agent's description is the agent's text; on
// the status page it is escaped like every other value, and the API
// carries it as JSON text.
func TestReviewStatusPageEscapesAgentDescription(t *testing.T) {
	const hostile = `<img src=x onerror="alert('x')">&amp;`
	b := statuspagefake.Healthy(statuspagefake.Target("mbox01", "imap", "10.0.0.5", 143, false), health.GroupMail, pageNow)
	a := agentStatus()
	a.Description = hostile
	a.LastReply = "drain # " + hostile
	b.Eligible, b.Reason, b.Draining, b.Agent = false, health.ReasonAgentDrain, true, a
	row := buildRow(b, pageAdmin{State: "ready"}, pageNow)
	html := string(writeRows([]statusRow{row}))
	if strings.Contains(html, "<img") || strings.Contains(html, `"alert`) || !strings.Contains(html, "&lt;img src=x onerror=&#34;alert(&#39;x&#39;)&#34;&gt;&amp;amp;") {
		t.Errorf("description not escaped:\n%s", html)
	}
	out, err := json.Marshal(viewBackend(b))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Agent struct {
			Description string `json:"description"`
		} `json:"agent"`
	}
	if err := json.Unmarshal(out, &back); err != nil || back.Agent.Description != hostile {
		t.Errorf("API description %q (%v), want it as the agent sent it", back.Agent.Description, err)
	}
}

// An agent's drain that keeps no users (the backend is also forced down,
// stale or at weight 0) reads "drain" on the status page, as an
// operator's drain in the same case does, not the raw reason.
func TestReviewStatusPageAgentDrainNotServing(t *testing.T) {
	target := statuspagefake.Target("mbox01", "imap", "10.0.0.5", 143, false)
	for name, set := range map[string]func(b *health.Backend){
		"operator drain": func(b *health.Backend) { b.Reason = health.ReasonDrain },
		"agent drain":    func(b *health.Backend) { b.Reason, b.Agent = health.ReasonAgentDrain, agentStatus() },
	} {
		b := statuspagefake.Healthy(target, health.GroupMail, pageNow)
		b.Eligible, b.Draining, b.Weight = false, false, 0
		set(&b)
		row := buildRow(b, pageAdmin{State: "ready"}, pageNow)
		if row.State != "drain" {
			t.Errorf("%s, not serving its users: state %q, want drain", name, row.State)
		}
	}
}
