package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backline/backline/internal/testutil"
)

// net/http's Transport logs with the standard logger every byte a server
// writes on an idle keep-alive connection (here a second answer, with a
// cookie and a body): under serve that line reaches the daemon's log with
// the header names and without the values.
func TestServeLogsLibraryMessagesRedacted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfgFile := filepath.Join(t.TempDir(), "backline.yml")
	if err := os.WriteFile(cfgFile, []byte("server:\n  address: "+addr+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, []string{"serve", "--config", cfgFile}, &stdout, &stderr) }()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("serve exit %d\n%s", code, stderr.String())
		}
	}()
	waitFor(t, "backline started", func() bool { return strings.Contains(stderr.String(), "backline started") })

	testutil.ProvokeUnsolicitedAnswer(t, "HTTP/1.1 200 OK\r\nSet-Cookie: sid=SECRET-1\r\nContent-Length: 8\r\n\r\nSECRET-2")
	waitFor(t, "net/http's message in the log", func() bool { return strings.Contains(stderr.String(), "Unsolicited response") })
	logs := stderr.String()
	if strings.Contains(logs, "SECRET") {
		t.Errorf("the log shows a secret:\n%s", logs)
	}
	if !strings.Contains(logs, `Set-Cookie: <redacted>`) {
		t.Errorf("the log lost the header name:\n%s", logs)
	}
}
