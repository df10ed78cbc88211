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
