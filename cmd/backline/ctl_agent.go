package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
)

// ctlAgent is a backend's agent check as GET /api/v1/backends shows it
// (absent without one, and from daemons before agent checks).
type ctlAgent struct {
	Address             string   `json:"address"`
	Admin               string   `json:"admin"`
	Health              string   `json:"health"`
	Description         string   `json:"description"`
	WeightPercent       int      `json:"weight_percent"`
	MaxConn             *int     `json:"maxconn"`
	LastReply           *string  `json:"last_reply"`
	LastUnknownWord     string   `json:"last_unknown_word"`
	LastCheck           *ctlTime `json:"last_check"`
	LastError           string   `json:"last_error"`
	ConsecutiveFailures int      `json:"consecutive_failures"`
	Since               *ctlTime `json:"since"`
}

// printAgentRows adds ctl show's agent rows: what the agent asks for and
// since when, its last line, and its failures.
func (c *ctlClient) printAgentRows(tw *tabwriter.Writer, b ctlBackend) {
	a := b.Agent
	if a == nil {
		return
	}
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	s := ctlCell(a.Admin) + ", " + ctlCell(a.Health) + ", weight " + strconv.Itoa(a.WeightPercent) + "%"
	if b.Weight != nil && b.Admin != nil && b.Admin.Weight != nil {
		s += fmt.Sprintf(" (effective %d of %d)", *b.Weight, *b.Admin.Weight)
	}
	if a.MaxConn != nil {
		s += ", maxconn " + strconv.Itoa(*a.MaxConn) + " (not enforced)"
	}
	if a.Since.set() {
		s += " since " + a.Since.String()
	}
	if a.Description != "" {
		s += ": " + ctlCell(a.Description)
	}
	row("agent", c.redact(s+" ("+ctlCell(a.Address)+")"))
	switch {
	case a.LastReply != nil && a.LastCheck.set() && a.LastError == "":
		r := strconv.Quote(*a.LastReply) + " at " + a.LastCheck.String()
		if a.LastUnknownWord != "" {
			r += " (unknown word " + strconv.Quote(a.LastUnknownWord) + " ignored)"
		}
		row("agent reply", c.redact(r))
	case a.LastError != "":
		e := fmt.Sprintf("%d in a row, the backend keeps what the agent said last", a.ConsecutiveFailures)
		if a.LastCheck.set() {
			e += "; last at " + a.LastCheck.String()
		}
		row("agent failing", c.redact(e+": "+ctlCell(a.LastError)))
	default:
		row("agent reply", "- (not queried yet)")
	}
}

// agentDrainingRow is the draining line of a backend its agent drains.
func (c *ctlClient) agentDrainingRow(b ctlBackend) string {
	s := "yes"
	if b.Agent != nil && b.Agent.Since.set() {
		s += " since " + b.Agent.Since.String()
	}
	s += ": its agent answers drain"
	if b.Agent != nil && b.Agent.Description != "" {
		s += " (" + ctlCell(b.Agent.Description) + ")"
	}
	if strings.HasPrefix(b.Group, "gateway:") {
		return c.redact(s + "; no new requests until it answers ready")
	}
	return c.redact(s + "; no new users until it answers ready (under policy sticky, users stored for it stay until their affinity expires)")
}

// ctlListAdminCell is ctl list's ADMIN cell: the operator's state, then
// the agent's drain or maint, which is not the operator's ("ready, agent
// drain"), as a check drain is not.
func (c *ctlClient) ctlListAdminCell(b ctlBackend) string {
	agentDrain := b.Reason == "agent_drain"
	cell := c.ctlAdminCell(b.Admin, b.Draining && !agentDrain, b.CheckDrainSince.set() || b.CheckDrainStatus != 0)
	if a := b.Agent; a != nil && (a.Admin == "drain" || a.Admin == "maint") {
		cell += ", agent " + ctlCell(a.Admin)
	}
	return cell
}
