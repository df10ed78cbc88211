package gateway

import (
	"testing"
)

// beta_health's agent block reaches every origin's probe target; the
// agent's host is each origin's own unless the block names one.
func TestHealthGroupsAgent(t *testing.T) {
	cfg := parseConfig(t, `definitions:
  backends:
    one:
      origin: http://127.0.0.1:8081
      beta_health: {agent: {port: 9001, send: "one\n"}}
    many:
      origins: [http://127.0.0.1:8082, http://127.0.0.2:8083]
      beta_health: {agent: {port: 9002}}
    none:
      origin: http://127.0.0.1:8084
      beta_health: {interval: 10s}
`)
	gw, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	got := map[string]string{}
	for _, g := range gw.HealthGroups() {
		for _, tg := range g.Targets {
			addr := "-"
			if tg.Agent != nil {
				addr = tg.Agent.Address(tg)
			}
			got[tg.Address()] = addr
		}
	}
	want := map[string]string{
		"127.0.0.1:8081": "127.0.0.1:9001",
		"127.0.0.1:8082": "127.0.0.1:9002",
		"127.0.0.2:8083": "127.0.0.2:9002",
		"127.0.0.1:8084": "-",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("origin %s: agent %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}
