package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

// listenAnswer accepts connections on 127.0.0.1 and writes answer to each,
// reading nothing; it returns the port.
func listenAnswer(t *testing.T, answer string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, answer)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// probe --config --target asks a target's agent once too, and says what
// the daemon would make of the answer; the send text is never shown.
func TestProbeConfiguredTargetAgent(t *testing.T) {
	service := listenAnswer(t, "")
	agent := listenAnswer(t, "drain 50% bogus # disk\x1b swap\n")
	yml := fmt.Sprintf(`auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      connect_check: tcp
      targets:
        - name: mbox01
          protocol: imap
          host: 127.0.0.1
          port: %d
          agent:
            port: %d
            send: "s3cr3t-token\n"
`, service, agent)
	path := writeFile(t, "agent.yml", yml)
	code, stdout, stderr := backline(t, "probe", "--config", path, "--target", "mbox01")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := fmt.Sprintf(`agent 127.0.0.1:%d: "drain 50%% bogus # disk? swap" -> drain, weight 50%%: disk? swap (unknown word "bogus" ignored)`, agent)
	if !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
	code, stdout, _ = backline(t, "probe", "--config", path, "--target", "mbox01", "--json")
	var rep probeReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != exitOK {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}
	if a := rep.Agent; a == nil || a.Admin != "drain" || a.WeightPercent == nil || *a.WeightPercent != 50 || a.Description != "disk? swap" {
		t.Errorf("json agent %+v", rep.Agent)
	}
	if strings.Contains(stdout+stderr, "s3cr3t") {
		t.Errorf("output shows the send text")
	}
}

func TestWriteAgentTextFailure(t *testing.T) {
	var b strings.Builder
	writeAgentText(&b, &agentReport{Address: "10.0.0.5:9999", Error: "agent 10.0.0.5:9999: connect: connection refused"})
	if got := b.String(); got != "agent 10.0.0.5:9999: no answer (the daemon would keep what it said last): agent 10.0.0.5:9999: connect: connection refused\n" {
		t.Errorf("got %q", got)
	}
	b.Reset()
	empty := ""
	writeAgentText(&b, &agentReport{Address: "a:1", Reply: &empty})
	if got := b.String(); got != `agent a:1: "" -> changes nothing`+"\n" {
		t.Errorf("got %q", got)
	}
}
