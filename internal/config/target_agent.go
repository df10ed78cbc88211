package config

import (
	"strings"
	"time"
)

// TargetAgent is a target's agent check (HAProxy's agent-check with
// agent-port, agent-addr, agent-inter and agent-send): backline connects
// to a small program next to the backend every interval, sends Send and
// reads one line that may drain the backend, put it into maintenance or
// back, mark it down or up, or scale its weight (docs/operations.md).
type TargetAgent struct {
	// Host is the agent's address (agent-addr); the target's host when
	// left out.
	Host string `yaml:"host"`
	// Port is the agent's TCP port (agent-port); required.
	Port int `yaml:"port"`
	// Interval between two queries (agent-inter); default 2s, 1s..24h.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one query, connect included; default the target's
	// connect_timeout, at most interval.
	Timeout time.Duration `yaml:"timeout"`
	// Send is written verbatim once connected (agent-send); end it with a
	// "\n" if the agent reads a line. Never shown.
	Send string `yaml:"send"`
}

// Agent check limits.
const (
	DefaultAgentInterval = 2 * time.Second // HAProxy's agent-inter default
	maxAgentSend         = 1024
)

// validateAgent checks a target's agent block and fills in its defaults;
// it runs after the target's own timeouts are known.
func (v *validator) validateAgent(key func(string) string, t *Target) {
	block := key("agent")
	// written lacks a key without a value ("agent:" alone); Lines has it.
	written := func(p string) bool { return v.written[p] || p == block && v.c.Lines[p] > 0 }
	checkAgent(v.add, written, block, t.Agent, t.ConnectTimeout)
}

// checkAgent checks the agent block a at path (mail target or beta_health)
// and fills in its defaults; connectTimeout is the default timeout (at
// most the interval). written tells whether a key path was in the file.
func checkAgent(add func(path, format string, args ...any), written func(string) bool, path string, a *TargetAgent, connectTimeout time.Duration) {
	if a == nil {
		if written(path) {
			// "agent:" with nothing under it (a lost indentation): no
			// silent "no agent check".
			add(path, "is empty: set at least port (leave the key out for no agent check)")
		}
		return
	}
	k := func(s string) string { return path + "." + s }
	a.Host = strings.TrimSpace(a.Host)
	if strings.HasPrefix(a.Host, "[") && strings.HasSuffix(a.Host, "]") {
		a.Host = a.Host[1 : len(a.Host)-1]
	}
	if written(k("host")) {
		if msg := CheckHost(a.Host); msg != "" {
			add(k("host"), "%s", msg)
		}
	}
	switch {
	case a.Port == 0 && !written(k("port")):
		add(k("port"), "is required (1..65535): the TCP port the agent listens on")
	case a.Port < 1 || a.Port > 65535:
		add(k("port"), "must be 1..65535, got %d", a.Port)
	}
	if !written(k("interval")) {
		a.Interval = DefaultAgentInterval
	} else if a.Interval < MinProbeInterval || a.Interval > 24*time.Hour {
		add(k("interval"), "must be %s..24h, got %s (each query is a connection to the agent)", formatDuration(MinProbeInterval), a.Interval)
	}
	if !written(k("timeout")) {
		a.Timeout = min(connectTimeout, a.Interval)
		if a.Timeout <= 0 {
			a.Timeout = min(5*time.Second, a.Interval)
		}
	} else {
		switch {
		case a.Timeout <= 0:
			add(k("timeout"), "must be greater than 0 (leave the key out for the default)")
		case a.Timeout > a.Interval && a.Interval > 0:
			add(k("timeout"), "must be at most interval (%s), got %s", a.Interval, a.Timeout)
		}
	}
	if len(a.Send) > maxAgentSend {
		// The length only: send may hold a token.
		add(k("send"), "must be at most %d bytes, got %d", maxAgentSend, len(a.Send))
	}
}
