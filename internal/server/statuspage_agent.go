package server

import (
	"strconv"
	"strings"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// agentDetail is a status page row's note on the backend's agent check:
// what the agent asks for when it asks for something ("agent drain 50%:
// disk swap"), and that it stopped answering. Nothing for an agent that
// says ready, up and 100%.
func agentDetail(a *health.AgentStatus) string {
	if a == nil {
		return ""
	}
	var words []string
	if a.Admin != probe.AgentReady {
		words = append(words, string(a.Admin))
	}
	if a.Health != probe.AgentUp {
		words = append(words, string(a.Health))
	}
	if a.WeightPercent != 100 {
		words = append(words, strconv.Itoa(a.WeightPercent)+"%")
	}
	s := ""
	if len(words) > 0 {
		s = "agent " + strings.Join(words, " ")
		if a.Description != "" {
			s += ": " + a.Description
		}
	}
	if a.LastError != "" {
		if s != "" {
			s += ";"
		}
		s += " agent not answering (" + strconv.Itoa(a.ConsecutiveFailures) + "x)"
	}
	return strings.TrimSpace(s)
}

// isAgentReason: the backend is out because of what its agent said.
func isAgentReason(r health.Reason) bool {
	return r == health.ReasonAgentMaint || r == health.ReasonAgentDrain || r == health.ReasonAgentDown
}
