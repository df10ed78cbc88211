package main

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
)

// fakeSMTP greets, records the EHLO line, answers it and QUIT on one
// connection, and returns the EHLO line it got.
func fakeSMTP(t *testing.T) (port string, ehlo <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- ""
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		_, _ = c.Write([]byte("220 fake ESMTP\r\n"))
		line, _ := r.ReadString('\n')
		got <- strings.TrimRight(line, "\r\n")
		_, _ = c.Write([]byte("250-fake\r\n250 8BITMIME\r\n"))
		if q, _ := r.ReadString('\n'); strings.HasPrefix(q, "QUIT") {
			_, _ = c.Write([]byte("221 bye\r\n"))
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), got
}

func TestProbeHeloName(t *testing.T) {
	port, ehlo := fakeSMTP(t)
	code, stdout, stderr := backline(t, "probe", "--protocol", "smtp", "--host", "127.0.0.1", "--port", port,
		"--deep", "--helo-name", "[192.0.2.7]")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if got := <-ehlo; got != "EHLO [192.0.2.7]" {
		t.Errorf("server got %q, want EHLO [192.0.2.7]", got)
	}
	if !strings.Contains(stdout, "  C: EHLO [192.0.2.7]\n") {
		t.Errorf("transcript lacks the EHLO line:\n%s", stdout)
	}
}

func TestProbeExpectationFlagErrors(t *testing.T) {
	http := []string{"probe", "--protocol", "http", "--host", "127.0.0.1", "--port", "80", "--deep"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"probe", "--protocol", "smtp", "--host", "127.0.0.1", "--port", "25", "--helo-name", "a b\r\nQUIT"},
			`--helo-name: must be a domain or an address literal without spaces or control characters, got "a b\r\nQUIT"`},
		{[]string{"probe", "--protocol", "imap", "--host", "127.0.0.1", "--port", "143", "--helo-name", "a.example"},
			"--helo-name: only applies to protocol smtp and lmtp"},
		{append(http, "--expected-status", "200,x"), `--expected-status: must be a whole number, got "x"`},
		{append(http, "--expected-status", "200,700"), "--expected-status: must be an HTTP status 100..599, got 700"},
		{[]string{"probe", "--protocol", "imap", "--host", "127.0.0.1", "--port", "143", "--expected-text", "ok"},
			"--expected-text: only applies to protocol http"},
		{[]string{"probe", "--protocol", "http", "--host", "127.0.0.1", "--port", "80", "--expected-text", "ok"},
			"--expected-text: only applies with --deep (a connect-only check sends no HTTP request)"},
	} {
		code, stdout, stderr := backline(t, c.args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want usage error containing %q", c.args, code, stdout, stderr, c.want)
		}
	}
}

func TestProbeTCPSteps(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- ""
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("* banner v1\r\n"))
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- line
		_, _ = c.Write([]byte("+PONG\r\n"))
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	code, stdout, stderr := backline(t, "probe", "--protocol", "tcp", "--host", "127.0.0.1", "--port", port, "--deep",
		"--expect", "banner", "--send", `PING\r\n`, "--expect-regex", `^\+PONG$`)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if line := <-got; line != "PING\r\n" {
		t.Errorf("server got %q", line)
	}
	for _, want := range []string{"  S: * banner v1\n", "  C: PING\\r\\n\n", "  S: +PONG\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("transcript lacks %q:\n%s", want, stdout)
		}
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--send", "x"}, "--send/--expect/--expect-regex: only applies with --deep (a connect-only check connects and closes)"},
		{[]string{"--deep", "--expect-regex", "(x"}, "--send/--expect/--expect-regex: is not a valid regular expression"},
		{[]string{"--deep", "--send", `\q`}, "--send/--expect/--expect-regex: has an unknown escape at offset 0"},
	} {
		args := append([]string{"probe", "--protocol", "tcp", "--host", "127.0.0.1", "--port", "1"}, c.args...)
		code, stdout, stderr := backline(t, args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want usage error containing %q", args, code, stdout, stderr, c.want)
		}
	}
}
