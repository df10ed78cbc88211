//go:build linux

package integration

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
)

const localResourceChildVar = "BACKLINE_INTEGRATION_RLIMIT_CHILD"

// TestOutOfDescriptorsBlamesThisHost (issue 9 item 6, probe and health
// side): a backline out of file descriptors checks real, healthy Dovecot
// servers. Every check must fail with reason local_resource (this host's
// problem), not as a connect failure of the server, and a health round
// keeps the backends healthy and logs an ERROR instead of marking them down.
// The limit is process-wide, so a child process lowers RLIMIT_NOFILE and
// fills its table; the parent first checks that the same targets pass. (On
// 6e90d09 the reason was "connect" and the backends went down.)
func TestOutOfDescriptorsBlamesThisHost(t *testing.T) {
	f := testfixture.Load(t)
	targets := localResourceTargets(t, f)
	if os.Getenv(localResourceChildVar) == "1" {
		outOfDescriptorsChild(t, targets)
		return
	}
	for name, tg := range targets {
		if res := (&probe.Prober{}).Check(context.Background(), tg, probe.PhaseDeep, probe.Options{}); !res.OK {
			t.Fatalf("%s fails with descriptors to spare: %s %v", name, res.Reason, res.Err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutOfDescriptorsBlamesThisHost$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), localResourceChildVar+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestOutOfDescriptorsBlamesThisHost") {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
}

// localResourceTargets are deep checks that pass against the fixture:
// Dovecot A's IMAP with STARTTLS and POP3S, with the test user's login.
func localResourceTargets(t *testing.T, f *testfixture.Fixture) map[string]*probe.Target {
	t.Helper()
	out := map[string]*probe.Target{}
	for name, ct := range map[string]config.Target{
		"imap starttls": {Protocol: "imap", Port: f.Port("DOVECOT_A_IMAP"), TLSMode: "starttls"},
		"pop3s":         {Protocol: "pop3", Port: f.Port("DOVECOT_A_POP3S"), TLSMode: "implicit"},
	} {
		ct.Name, ct.Host, ct.TLSCAFile, ct.TLSServerName = name, f.Host, f.CAFile, f.ServerName
		ct.DeepCheck, ct.TestUsername, ct.TestPassword, ct.AuthMechanism = true, f.User, f.Password, "auto"
		ct.ConnectTimeout, ct.TLSTimeout, ct.DeepTimeout = 5*time.Second, 5*time.Second, 5*time.Second
		tg, err := probe.NewTarget(&ct) // reads the CA file: before the limit
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = tg
	}
	return out
}

func outOfDescriptorsChild(t *testing.T, targets map[string]*probe.Target) {
	open, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("cannot count open files: %v", err)
	}
	limit := uint64(len(open) + 16)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		t.Fatalf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for range 1000 { // bounded; stops at the limit
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		files = append(files, f)
	}
	for name, tg := range targets {
		res := (&probe.Prober{}).Check(context.Background(), tg, probe.PhaseDeep, probe.Options{})
		if res.OK || res.Reason != probe.Reason("local_resource") {
			t.Errorf("%s out of descriptors: ok=%v reason=%q err=%v, want reason local_resource", name, res.OK, res.Reason, res.Err)
		}
	}
	healthRoundOutOfDescriptors(t, targets)
}

// healthRoundOutOfDescriptors runs one health round of the same targets,
// healthy to begin with and down after a single failure: out of
// descriptors, they must stay healthy, with an ERROR that blames this host.
func healthRoundOutOfDescriptors(t *testing.T, targets map[string]*probe.Target) {
	var list []*probe.Target
	for _, tg := range targets {
		list = append(list, tg)
	}
	var logs syncBuffer
	engine, err := health.New([]health.Group{{
		Name: health.GroupMail, ConnectInterval: time.Hour, DeepInterval: time.Hour,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true, Targets: list,
	}}, &probe.Prober{}, health.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); engine.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second) // bounds a hung run only
	for engine.Snapshot().Round < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	snap := engine.Snapshot()
	if snap.Round < 1 {
		t.Fatal("no health round finished within 20s")
	}
	for _, b := range snap.Backends {
		if !b.Healthy {
			t.Errorf("%s marked down for this host's lack of descriptors: connect %+v deep %+v", b.Target.Name, b.Connect, b.Deep)
		}
	}
	if !strings.Contains(logs.String(), "out of resources") {
		t.Errorf("no ERROR blaming this host:\n%s", logs.String())
	}
}
