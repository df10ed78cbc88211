package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backline/backline/internal/demo"
)

// startServeForCtl runs `backline serve --config FILE` in-process on the
// demo's fake backends, with api_auth, until the test ends, and returns the
// file (ctl finds the daemon and its credentials from it) and the API's
// base URL.
func startServeForCtl(t *testing.T) (cfgFile, base string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // serve opens server.address itself
	env, err := demo.Start(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	dir := t.TempDir()
	pw := filepath.Join(dir, "api.pw")
	if err := os.WriteFile(pw, []byte("ctl-test-api-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const anchor = "  log_level: info\n"
	if !strings.Contains(env.YAML, anchor) {
		t.Fatalf("demo configuration changed; no %q in:\n%s", anchor, env.YAML)
	}
	yaml := strings.Replace(env.YAML, anchor, anchor+"  api_auth:\n    username: ops\n    password_file: \""+pw+"\"\n", 1)
	cfgFile = filepath.Join(dir, "backline.yml")
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, []string{"serve", "--config", cfgFile}, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("serve exit %d\n%s", code, stderr.String())
		}
		http.DefaultClient.CloseIdleConnections()
	})
	base = "http://" + addr
	waitFor(t, "the first probe round", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false // not listening yet
		}
		defer resp.Body.Close()
		var hz struct {
			FirstRound bool `json:"first_round"`
		}
		return json.NewDecoder(resp.Body).Decode(&hz) == nil && hz.FirstRound
	})
	return cfgFile, base
}

// TestCtlAgainstDaemon runs ctl against the real daemon, found and
// authenticated through its configuration file.
func TestCtlAgainstDaemon(t *testing.T) {
	cfgFile, base := startServeForCtl(t)
	ctl := func(args ...string) (int, string, string) {
		return backline(t, append([]string{"ctl", "--config", cfgFile}, args...)...)
	}

	t.Run("list", func(t *testing.T) {
		// The first round may leave the hung backend as it was when its
		// timeout fell in a stall of the daemon (a result that says
		// nothing, operations.md): a loaded machine waits for a round
		// that finds it.
		waitFor(t, "the hung backend down and first", func() bool {
			_, out, _ := ctl("list")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			return len(lines) > 1 && strings.HasPrefix(lines[1], "demo-imap-hung ") && strings.Contains(lines[1], " down ")
		})
		code, stdout, stderr := ctl("list")
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) != 7 || !strings.HasPrefix(lines[0], "ID ") {
			t.Fatalf("want a header, 5 backends and a roll-up:\n%s", stdout)
		}
		// The hung backend is the one problem, so it comes first.
		if !strings.HasPrefix(lines[1], "demo-imap-hung ") || !strings.Contains(lines[1], " down ") {
			t.Errorf("problem not first:\n%s", stdout)
		}
		if !strings.Contains(lines[6], "5 backends") {
			t.Errorf("roll-up: %s", lines[6])
		}
		code, stdout, _ = ctl("list", "--json")
		if code != exitOK || !strings.Contains(stdout, `"name": "demo-imaps"`) {
			t.Errorf("--json: exit %d\n%s", code, stdout)
		}
		code, stdout, stderr = ctl("show", "demo-imaps")
		if code != exitOK || !strings.Contains(stdout, "demo-imaps") || !strings.Contains(stdout, "connect check:") {
			t.Errorf("show: exit %d\n%s%s", code, stdout, stderr)
		}
		code, _, stderr = ctl("show", "no-such-backend")
		if code != exitFail || !strings.Contains(stderr, "404") {
			t.Errorf("show unknown: exit %d %s", code, stderr)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		wrong := writeFile(t, "wrong.pw", "not-it\n")
		code, _, stderr := ctl("--password-file", wrong, "list")
		if code != exitFail || !strings.Contains(stderr, "401 authentication required") {
			t.Errorf("exit %d %s", code, stderr)
		}
	})

	t.Run("admin", func(t *testing.T) {
		code, stdout, stderr := ctl("drain", "demo-imaps", "--for", "30m", "--why", "disk swap")
		if code != exitOK || !strings.Contains(stdout, "demo-imaps: drain") || !strings.Contains(stdout, "by ops: disk swap") {
			t.Fatalf("drain: exit %d\n%s%s", code, stdout, stderr)
		}
		code, stdout, _ = ctl("list")
		if code != exitOK || !strings.Contains(stdout, "no (drain)") || !strings.Contains(stdout, "draining 30m left") {
			t.Errorf("list after drain: exit %d\n%s", code, stdout)
		}
		// Healthy and drained: draining, since when and by whom.
		code, stdout, _ = ctl("show", "demo-imaps")
		if code != exitOK || !strings.Contains(stdout, "draining:") || !strings.Contains(stdout, " by ops (no new users") {
			t.Errorf("show after drain: exit %d\n%s", code, stdout)
		}
		code, stdout, _ = ctl("list", "--json")
		if code != exitOK || !strings.Contains(stdout, `"draining": true`) {
			t.Errorf("list --json after drain: exit %d\n%s", code, stdout)
		}
		if code, stdout, stderr = ctl("weight", "demo-imaps", "7"); code != exitOK || !strings.Contains(stdout, "weight 7") {
			t.Errorf("weight: exit %d\n%s%s", code, stdout, stderr)
		}
		if code, stdout, stderr = ctl("ready", "demo-imaps", "--reset"); code != exitOK || !strings.Contains(stdout, "returned to the configuration: ready") {
			t.Errorf("ready --reset: exit %d\n%s%s", code, stdout, stderr)
		}
		if code, _, stderr = ctl("maint", "no-such-backend"); code != exitFail || !strings.Contains(stderr, "404") {
			t.Errorf("maint unknown: exit %d %s", code, stderr)
		}
	})

	t.Run("recheck", func(t *testing.T) {
		code, stdout, stderr := ctl("recheck", "demo-imaps")
		if code != exitOK || !strings.HasPrefix(stdout, "demo-imaps: probe ") || !strings.Contains(stdout, " ok in ") {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		if code, _, stderr = ctl("recheck", "no-such-backend"); code != exitFail || !strings.Contains(stderr, "404") {
			t.Errorf("unknown: exit %d %s", code, stderr)
		}
	})

	t.Run("explain", func(t *testing.T) {
		code, stdout, stderr := ctl("explain", demo.DemoUser, "--protocol", "imap", "--client-ip", "127.0.0.1")
		if code != exitOK || !strings.Contains(stdout, demo.DemoUser+" -> ") || !strings.Contains(stdout, "CANDIDATE") {
			t.Errorf("exit %d\n%s%s", code, stdout, stderr)
		}
	})

	t.Run("affinity", func(t *testing.T) {
		code, stdout, stderr := ctl("affinity", "move", demo.DemoUser, "demo-pop3")
		if code != exitOK || !strings.Contains(stdout, "pop3: moved to demo-pop3") {
			t.Fatalf("move: exit %d\n%s%s", code, stdout, stderr)
		}
		if code, stdout, _ = ctl("affinity", "show", demo.DemoUser); code != exitOK || !strings.Contains(stdout, "pop3: stays on demo-pop3") {
			t.Errorf("show: exit %d\n%s", code, stdout)
		}
		if code, _, stderr = ctl("affinity", "move", demo.DemoUser, "demo-pop3", "--protocol", "imap"); code != exitFail || !strings.Contains(stderr, "serves pop3, not imap") {
			t.Errorf("move across protocols: exit %d %s", code, stderr)
		}
		if code, stdout, _ = ctl("affinity", "flush", demo.DemoUser); code != exitOK {
			t.Errorf("flush: exit %d\n%s", code, stdout)
		}
		if code, stdout, _ = ctl("affinity", "show", demo.DemoUser, "--protocol", "pop3"); code != exitOK || !strings.Contains(stdout, "no stored backend") {
			t.Errorf("show after flush: exit %d\n%s", code, stdout)
		}
		resp, err := http.Get(base + "/api/v1/affinity/" + demo.DemoUser)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("without credentials: %d, want 401 (api_auth)", resp.StatusCode)
		}
	})

	t.Run("reload", func(t *testing.T) {
		code, stdout, stderr := ctl("reload")
		if code != exitOK || !strings.Contains(stdout, "reloaded: generation ") {
			t.Errorf("exit %d\n%s%s", code, stdout, stderr)
		}
	})
}
