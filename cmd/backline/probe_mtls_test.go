package main

import (
	"bufio"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// probe --tls-cert-file/--tls-key-file present a client certificate to an
// IMAP server that requires one; without them the failure says so.
func TestProbeClientCertificate(t *testing.T) {
	pki := testutil.NewPKI(t)
	dir := t.TempDir()
	caFile := pki.WriteCA(t, dir)
	cert, key := pki.Issue(t, "probe client", 3, time.Now().Add(24*time.Hour), true).Write(t, dir)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.Server(t, 2).Cert},
		ClientCAs: pki.Pool(), ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serveIMAPGreeting(c)
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	base := []string{"probe", "--protocol", "imap", "--host", "127.0.0.1", "--port", port, "--tls",
		"--tls-ca-file", caFile, "--tls-server-name", "localhost", "--deep", "--timeout", "10s"}

	code, stdout, stderr := backline(t, append(base, "--tls-cert-file", cert, "--tls-key-file", key)...)
	if code != exitOK || !strings.Contains(stdout, "result: healthy") {
		t.Errorf("with the certificate: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = backline(t, base...)
	if code != exitFail || !strings.Contains(stdout+stderr, "requires a client certificate and none is configured") {
		t.Errorf("without: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "PRIVATE KEY") {
		t.Errorf("key material in the output")
	}
}

// serveIMAPGreeting greets and answers LOGOUT; a refused handshake ends it.
func serveIMAPGreeting(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := c.(*tls.Conn).Handshake(); err != nil {
		return
	}
	_, _ = c.Write([]byte("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && strings.HasSuffix(line, "LOGOUT\r\n") {
		_, _ = c.Write([]byte("* BYE\r\na1 OK bye\r\n"))
	}
}
