package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/state"
	"github.com/backline/backline/internal/testfixture"
)

// withStdLog points the standard logger at a buffer with known flags and
// prefix for the test and returns a check that a command left them so.
func withStdLog(t *testing.T) (check func(what string)) {
	t.Helper()
	var buf bytes.Buffer
	out, flags, prefix := log.Writer(), log.Flags(), log.Prefix()
	log.SetOutput(&buf)
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix("review: ")
	t.Cleanup(func() {
		log.SetOutput(out)
		log.SetFlags(flags)
		log.SetPrefix(prefix)
	})
	return func(what string) {
		t.Helper()
		if w, ok := log.Writer().(*bytes.Buffer); !ok || w != &buf {
			t.Errorf("%s: the standard logger writes to %T, not back to the test's writer", what, log.Writer())
		}
		if log.Flags() != log.Lmicroseconds || log.Prefix() != "review: " {
			t.Errorf("%s: flags %d prefix %q not restored", what, log.Flags(), log.Prefix())
		}
		buf.Reset()
		log.Print("after")
		if !strings.Contains(buf.String(), "review: ") || !strings.Contains(buf.String(), "after") {
			t.Errorf("%s: a later log line went elsewhere: %q", what, buf.String())
		}
	}
}

// Every one-off command that fails or stops early (bad flags, a missing
// file, an unreachable API) gives the standard logger back as it found it.
func TestOneOffCommandsRestoreStdLogOnFailure(t *testing.T) {
	check := withStdLog(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, args := range [][]string{
		{"check", "--config", "/nonexistent/backline.yml"},
		{"check", "--no-such-flag"},
		{"probe", "--protocol", "imap"},
		{"probe", "--protocol", "imap", "--host", "127.0.0.1", "--port", "1"},
		{"lua", "test"},
		{"lua", "test", "--script", "/nonexistent/filter.lua"},
		{"ctl", "--api", closed, "list"},
		{"ctl", "--api", closed, "no-such-command"},
		{"migrate"},
		{"migrate", "nauthilus", "/nonexistent/nauthilus.yml"},
	} {
		code, _, _ := backline(t, args...)
		if code == exitOK {
			t.Errorf("%q: exit 0, want a failure", args)
		}
		check(strings.Join(args, " "))
	}
}

// panicWriter panics at the first write: a command writing its error
// panics in the middle of its run.
type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("stderr broke") }

// A command that panics (here: its stderr) still gives the standard
// logger back before the panic leaves dispatch.
func TestOneOffCommandRestoresStdLogOnPanic(t *testing.T) {
	check := withStdLog(t)
	for _, args := range [][]string{
		{"check", "--config", "/nonexistent/backline.yml"},
		{"ctl", "--api", "http://127.0.0.1:1", "no-such-command"},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%q did not panic", args)
				}
			}()
			var stdout bytes.Buffer
			dispatch(context.Background(), args, &stdout, panicWriter{})
		}()
		check(strings.Join(args, " ") + " (panicked)")
	}
}

// echoBasicServer answers an HTTP check with the Authorization it got
// echoed in a harmless-looking header, a status text and the body, as a
// misbehaving backend may. It returns its port.
func echoBasicServer(t *testing.T) string {
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
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				auth := req.Header.Get("Authorization")
				raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Basic "))
				body := "you sent " + auth + " that is " + string(raw)
				_, _ = c.Write([]byte("HTTP/1.1 401 " + string(raw) + "\r\nX-Echo: " + auth + "\r\nX-Plain: " + string(raw) +
					"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body))
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// probe and check with credentials in the configuration: the password,
// in clear or base64, never reaches stdout or stderr, even when the
// server echoes it back.
func TestProbeAndCheckNeverPrintTheConfiguredPassword(t *testing.T) {
	const password = "Review-PW-9xq7"
	port := echoBasicServer(t)
	cfg := `auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      targets:
        - name: web
          protocol: http
          host: 127.0.0.1
          port: ` + port + `
          deep_check: true
          allow_plaintext_auth: true
          test_username: probe-user
          test_password: ` + password + `
          request_uri: /healthz
`
	path := writeFile(t, "web.yml", cfg)
	forms := []string{password, base64.StdEncoding.EncodeToString([]byte("probe-user:" + password)),
		base64.StdEncoding.EncodeToString([]byte(password))}
	for _, args := range [][]string{
		{"probe", "--config", path, "--target", "web"},
		{"probe", "--config", path, "--target", "web", "--json"},
		{"probe", "--config", path, "--all"},
		{"check", "--config", path},
	} {
		code, stdout, stderr := backline(t, args...)
		if args[0] == "probe" && code == exitOK {
			t.Errorf("%q: a 401 passed: exit 0", args)
		}
		for _, f := range forms {
			if strings.Contains(stdout+stderr, f) {
				t.Errorf("%q prints the password (%q):\nstdout:\n%s\nstderr:\n%s", args, f, stdout, stderr)
			}
		}
	}
}

// ctl list keeps one cell per column whatever the daemon sends: a
// connect_check of blanks only never leaves a cell empty (nor reads
// "+deep"), values thousands of characters long never split a row.
func TestCtlListHostileCheckValues(t *testing.T) {
	long := strings.Repeat("x", 10000)
	var backends []ctlBackend
	if err := json.Unmarshal([]byte(`[
 {"id":"blank","group":"g","protocol":"imap","host":"10.0.0.1","port":143,"healthy":true,"eligible":true,"weight":1,"connect_check":"   "},
 {"id":"blank-deep","group":"g","protocol":"imap","host":"10.0.0.2","port":143,"healthy":true,"eligible":true,"weight":1,"deep_check":true,"connect_check":" \t "},
 {"id":"`+long+`","group":"g","protocol":"imap","host":"10.0.0.3","port":143,"healthy":true,"eligible":true,"weight":1,"connect_check":"`+long+`"}]`), &backends); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	(&ctlClient{stdout: &out}).printList(backends)
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 5 { // header, three rows, the roll-up
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	header := strings.Fields(lines[0])
	for _, l := range lines[1:4] {
		f := strings.Fields(l)
		if len(f) != len(header) {
			t.Errorf("row with %d cells, header has %d: %.200q", len(f), len(header), l)
			continue
		}
		switch f[0] {
		case "blank":
			if f[3] != "-" {
				t.Errorf("blank connect_check shows CHECK %q", f[3])
			}
		case "blank-deep":
			if f[3] != "deep" {
				t.Errorf("blank connect_check with a deep check shows CHECK %q", f[3])
			}
		}
	}
}

// Over a shared store (Redis, here miniredis), a drain's since and who
// agree on every instance, and an edit of its weight or reason made on
// another instance keeps them on all.
func TestSharedAdminSinceAgreesOverRedis(t *testing.T) {
	m := miniredis.RunT(t)
	sinceAgrees(t, newSharedInstance(t, m.Addr()), newSharedInstance(t, m.Addr()))
}

// The same against the fixture's real Redis, standalone and Cluster.
func TestSharedAdminSinceAgreesOverRealRedis(t *testing.T) {
	fx := testfixture.Load(t)
	prefix := "review-since-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	instance := func(t *testing.T, newClient func() redis.UniversalClient) *sharedInstance {
		c := newClient()
		t.Cleanup(func() { c.Close() })
		e := adminEngine(t)
		logs := &syncBuffer{}
		s := newAdminSharer(e, state.NewRedisAdminStore(c, prefix+t.Name()+":"), slog.New(slog.NewTextHandler(logs, nil)), prometheus.NewRegistry())
		return &sharedInstance{engine: e, sharer: s, logs: logs}
	}
	for name, newClient := range map[string]func() redis.UniversalClient{
		"standalone": func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: fx.Addr("REDIS")}) },
		"cluster": func() redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(fx.Get("REDIS_CLUSTER_ADDRESSES"), ",")})
		},
	} {
		t.Run(name, func(t *testing.T) {
			sinceAgrees(t, instance(t, newClient), instance(t, newClient))
		})
	}
}

func sinceAgrees(t *testing.T, a, b *sharedInstance) {
	t.Helper()
	ctx := context.Background()
	a.sharer.sync(ctx)
	b.sharer.sync(ctx)
	drained, err := a.engine.SetAdmin("mbox03", health.AdminChange{State: ptrTo(health.AdminDrain), Who: "alice", Why: ptrTo("disk swap")})
	if err != nil {
		t.Fatal(err)
	}
	a.sharer.sync(ctx)
	b.sharer.sync(ctx)
	same := func(when string) {
		t.Helper()
		for name, i := range map[string]*sharedInstance{"a": a, "b": b} {
			adm, _ := i.engine.GetAdmin("mbox03")
			if !adm.Since.Equal(drained.Since) || adm.Who != "alice" || adm.State != health.AdminDrain {
				t.Errorf("%s, %s: %s since %v by %q, want drain since %v by alice", when, name, adm.State, adm.Since, adm.Who, drained.Since)
			}
		}
	}
	same("after the drain")
	time.Sleep(2 * time.Millisecond) // a later now on b, so a moved since would show
	if _, err := b.engine.SetAdmin("mbox03", health.AdminChange{Weight: ptrTo(7), Why: ptrTo("slot 3"), Who: "bob"}); err != nil {
		t.Fatal(err)
	}
	b.sharer.sync(ctx)
	a.sharer.sync(ctx)
	same("after bob's weight edit on b")
	if adm, _ := a.engine.GetAdmin("mbox03"); adm.Weight != 7 || adm.Why != "slot 3" {
		t.Errorf("a did not get b's edit: %+v", adm)
	}
	// And they stay put: nothing to push, nothing pulled.
	a.sharer.sync(ctx)
	b.sharer.sync(ctx)
	same("after another sync")
	for name, i := range map[string]*sharedInstance{"a": a, "b": b} {
		if v := gaugeValue(t, i.sharer.up); v != 1 {
			t.Errorf("%s: backline_state_redis_up = %v\n%s", name, v, i.logs.String())
		}
	}
	if _, err := a.engine.ResetAdmin("mbox03"); err != nil { // leave the shared store clean
		t.Fatal(err)
	}
	a.sharer.sync(ctx)
}

func ptrTo[T any](v T) *T { return &v }
