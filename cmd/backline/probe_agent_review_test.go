package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// echoAgent reads one line and answers it back in upper case after "drain #".
func echoAgent(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			_, _ = io.WriteString(c, "drain # unknown "+strings.ToUpper(strings.TrimSpace(line))+"\n")
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// Review (branch h-agent): `backline probe` shows nothing of a send text
// its agent echoes in another case, in text or JSON.
func TestReviewProbeAgentEchoWithheld(t *testing.T) {
	service := listenAnswer(t, "")
	agent := echoAgent(t)
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
            send: "auth s3cr3t-token\n"
`, service, agent)
	path := writeFile(t, "agent.yml", yml)
	for _, args := range [][]string{{}, {"--json"}} {
		code, stdout, stderr := backline(t, append([]string{"probe", "--config", path, "--target", "mbox01"}, args...)...)
		if code != exitOK || !strings.Contains(stdout, "drain") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if strings.Contains(strings.ToLower(stdout+stderr), "s3cr3t") {
			t.Errorf("%v: output shows the send text:\n%s", args, stdout)
		}
	}
}
