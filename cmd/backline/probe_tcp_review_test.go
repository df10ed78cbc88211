package main

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
)

// fakeLineEcho answers every line it reads with "+OK" and the line, as
// a server quoting a command back would.
func fakeLineEcho(t *testing.T) string {
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
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					_, _ = c.Write([]byte("+OK " + line))
				}
			}()
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// A --send naming a ${VAR} sends the variable's value but shows it as
// <redacted>: the variable is how a password stays off the command line,
// so it must not come back on stdout.
func TestReviewProbeSendEnvValueWithheld(t *testing.T) {
	const pw = "rv-env-pw-4711"
	t.Setenv("RV_TCP_PW", pw)
	port := fakeLineEcho(t)
	code, stdout, stderr := backline(t, "probe", "--protocol", "tcp", "--host", "127.0.0.1", "--port", port,
		"--deep", "--allow-plaintext-auth", "--send", `AUTH ${RV_TCP_PW}\r\n`, "--expect", "+OK AUTH")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, pw) {
		t.Errorf("password on output:\n%s%s", stdout, stderr)
	}
	if !strings.Contains(stdout, "  C: <redacted>\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
	// Without --allow-plaintext-auth a secret goes only over TLS.
	code, stdout, stderr = backline(t, "probe", "--protocol", "tcp", "--host", "127.0.0.1", "--port", port,
		"--deep", "--send", `AUTH ${RV_TCP_PW}\r\n`, "--expect", "+OK")
	if code == exitOK || strings.Contains(stdout+stderr, pw) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
