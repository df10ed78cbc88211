package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/backline/backline/internal/probe"
)

// agentReport is one agent check query of `backline probe --config
// --target` for a target with an agent block: what the agent answered and
// what the daemon would make of it. The text sent is never part of it.
type agentReport struct {
	Address       string  `json:"address"`
	Reply         *string `json:"reply,omitempty"`
	Admin         string  `json:"admin,omitempty"`
	Health        string  `json:"health,omitempty"`
	WeightPercent *int    `json:"weight_percent,omitempty"`
	MaxConn       *int    `json:"maxconn,omitempty"`
	Description   string  `json:"description,omitempty"`
	UnknownWord   string  `json:"unknown_word,omitempty"`
	Error         string  `json:"error,omitempty"`
}

// queryAgentReport asks t's agent once; nil without an agent block.
func queryAgentReport(ctx context.Context, t *probe.Target) *agentReport {
	if t.Agent == nil {
		return nil
	}
	r, err := probe.QueryAgent(ctx, t, nil)
	rep := &agentReport{Address: t.Agent.Address(t)}
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	rep.Reply = &r.Line
	rep.Admin, rep.Health = string(r.Admin), string(r.Health)
	rep.Description, rep.UnknownWord = r.Description, r.Unknown
	if r.WeightPercent >= 0 {
		rep.WeightPercent = &r.WeightPercent
	}
	if r.MaxConn >= 0 {
		rep.MaxConn = &r.MaxConn
	}
	return rep
}

// writeAgentText prints the agent's answer under the check's result. An
// agent's failure does not change the exit status: it changes nothing in
// the daemon either.
func writeAgentText(w io.Writer, a *agentReport) {
	if a == nil {
		return
	}
	if a.Error != "" {
		fmt.Fprintf(w, "agent %s: no answer (the daemon would keep what it said last): %s\n", a.Address, a.Error)
		return
	}
	var says []string
	if a.Admin != "" {
		says = append(says, a.Admin)
	}
	if a.Health != "" {
		says = append(says, a.Health)
	}
	if a.WeightPercent != nil {
		says = append(says, "weight "+strconv.Itoa(*a.WeightPercent)+"%")
	}
	if a.MaxConn != nil {
		says = append(says, "maxconn "+strconv.Itoa(*a.MaxConn)+" (not enforced)")
	}
	meaning := "changes nothing"
	if len(says) > 0 {
		meaning = strings.Join(says, ", ")
	}
	if a.Description != "" {
		meaning += ": " + a.Description
	}
	if a.UnknownWord != "" {
		meaning += " (unknown word " + strconv.Quote(a.UnknownWord) + " ignored)"
	}
	fmt.Fprintf(w, "agent %s: %s -> %s\n", a.Address, strconv.Quote(*a.Reply), meaning)
}
