package testfixture

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeTB records Fatalf/Skip and ends its goroutine like the real ones do.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Skip(args ...any) {
	f.skip = fmt.Sprint(args...)
	runtime.Goexit()
}

// run calls fn with a fakeTB in its own goroutine, so Goexit ends only fn.
func run(t *testing.T, fn func(tb *fakeTB)) *fakeTB {
	tb := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	<-done
	return tb
}

const sample = `# comment
BACKLINE_FIXTURE_DIR=/tmp/fx
HOST=127.0.0.1
TLS_SERVER_NAME=localhost
CA_FILE=/tmp/fx/tls/ca.pem
OTHER_CA_FILE=/tmp/fx/tls/other-ca.pem
CERT_FILE=/tmp/fx/tls/server.pem
KEY_FILE=/tmp/fx/tls/server.key
CLIENT_CERT_FILE=/tmp/fx/tls/client.pem
CLIENT_KEY_FILE=/tmp/fx/tls/client.key
TEST_USER=healthcheck-user
TEST_PASSWORD=healthcheck-password
ALICE_USER=alice
ALICE_PASSWORD=alice-secret
HTTP_REALM=backline

DOVECOT_A_IMAP=21143
REDIS=25379
PORT_KEYS=DOVECOT_A_IMAP REDIS
DOVECOT_A_LOG=/tmp/fx/logs/dovecot-a.log
`

func writeEnv(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fixture.env")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadReadsFixtureEnv(t *testing.T) {
	t.Setenv(EnvVar, writeEnv(t, sample))
	var f *Fixture
	tb := run(t, func(tb *fakeTB) { f = load(tb, false) })
	if tb.fatal != "" || tb.skip != "" {
		t.Fatalf("fatal=%q skip=%q", tb.fatal, tb.skip)
	}
	if f.User != "healthcheck-user" || f.Password != "healthcheck-password" || f.Dir != "/tmp/fx" ||
		f.CAFile != "/tmp/fx/tls/ca.pem" || f.OtherCAFile != "/tmp/fx/tls/other-ca.pem" {
		t.Errorf("fields: %+v", f)
	}
	if got := f.Port("DOVECOT_A_IMAP"); got != 21143 {
		t.Errorf("Port = %d", got)
	}
	if got := f.Addr("dovecot-a-imap"); got != "127.0.0.1:21143" {
		t.Errorf("Addr = %q", got)
	}
	if got := f.LogFile("dovecot-a"); got != "/tmp/fx/logs/dovecot-a.log" {
		t.Errorf("LogFile = %q", got)
	}
	if got := strings.Join(f.PortNames(), ","); got != "DOVECOT_A_IMAP,REDIS" {
		t.Errorf("PortNames = %q", got)
	}
}

func TestUnknownNamesFail(t *testing.T) {
	t.Setenv(EnvVar, writeEnv(t, sample))
	for name, fn := range map[string]func(f *Fixture){
		"port":    func(f *Fixture) { f.Port("DOVECOT_Z_IMAP") },
		"notport": func(f *Fixture) { f.Port("TEST_USER") },
		"log":     func(f *Fixture) { f.LogFile("nope") },
	} {
		tb := run(t, func(tb *fakeTB) { fn(load(tb, false)) })
		if tb.fatal == "" {
			t.Errorf("%s: no Fatalf", name)
		}
	}
}

func TestMissingFixtureFailsNeverSkips(t *testing.T) {
	t.Setenv(EnvVar, filepath.Join(t.TempDir(), "absent.env"))
	tb := run(t, func(tb *fakeTB) { load(tb, false) })
	if tb.skip != "" {
		t.Fatalf("skipped: %q", tb.skip)
	}
	if !strings.Contains(tb.fatal, "scripts/fixture/start.sh") || !strings.Contains(tb.fatal, "BACKLINE_SHORT=1") {
		t.Fatalf("message does not say how to start the fixture: %q", tb.fatal)
	}
}

func TestIncompleteFixtureFails(t *testing.T) {
	t.Setenv(EnvVar, writeEnv(t, "HOST=127.0.0.1\n"))
	tb := run(t, func(tb *fakeTB) { load(tb, false) })
	if tb.fatal == "" {
		t.Fatal("no Fatalf for a fixture.env without the credentials")
	}
}

func TestShortSkips(t *testing.T) {
	t.Setenv(EnvVar, filepath.Join(t.TempDir(), "absent.env"))
	tb := run(t, func(tb *fakeTB) { load(tb, true) })
	if tb.skip != ShortSkipMessage || tb.fatal != "" {
		t.Fatalf("skip=%q fatal=%q", tb.skip, tb.fatal)
	}
	t.Setenv(ShortVar, "1")
	tb = run(t, func(tb *fakeTB) { Load(tb) })
	if tb.skip != ShortSkipMessage {
		t.Fatalf("BACKLINE_SHORT=1: skip=%q fatal=%q", tb.skip, tb.fatal)
	}
}
