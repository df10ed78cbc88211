package main

import (
	"bufio"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A tcp target whose server echoes the secret send step back in its
// refusal: the daemon's status API, status page, metrics and logs show
// the failure, never the secret.
func TestDaemonTCPCheckSecretNeverShown(t *testing.T) {
	const secret = "tcp-step-secret-7Hq"
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
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				_, _ = c.Write([]byte("-ERR bad password " + strings.TrimSpace(line) + "\r\n"))
			}()
		}
	}()
	t.Setenv("TCP_STEP_SECRET", secret)
	dir := t.TempDir()
	path := filepath.Join(dir, "backline.yml")
	writeConfigFile(t, path, `server:
  address: 127.0.0.1:9080
auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      failure_threshold: 1
      targets:
        - name: kv
          protocol: tcp
          host: 127.0.0.1
          port: `+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)+`
          deep_check: true
          allow_plaintext_auth: true
          tcp_steps:
            - send: 'AUTH '
            - send: ${TCP_STEP_SECRET}
              secret: true
            - send: '\r\n'
            - expect: +OK
`)
	api, logs := startFileDaemon(t, path)
	var backends string
	waitFor(t, "the tcp check's failure in the status API", func() bool {
		_, backends = httpGet(t, api+"/api/v1/backends")
		return strings.Contains(backends, "tcp_steps[3]")
	})
	if !strings.Contains(backends, `-ERR bad password AUTH \u003credacted\u003e`) {
		t.Errorf("status API lacks the scrubbed refusal:\n%s", backends)
	}
	_, page := httpGet(t, api+"/")
	_, metrics := httpGet(t, api+"/metrics")
	_, one := httpGet(t, api+"/api/v1/backends/kv")
	for what, text := range map[string]string{"status API": backends, "backend": one, "status page": page, "metrics": metrics, "logs": logs.String()} {
		if strings.Contains(text, secret) {
			t.Errorf("secret in the %s:\n%s", what, text)
		}
	}
}
