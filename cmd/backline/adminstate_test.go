package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

type passChecker struct{}

func (passChecker) Check(context.Context, *probe.Target, probe.Phase, probe.Options) probe.Result {
	return probe.Result{OK: true}
}

func adminEngine(t *testing.T) *health.Engine {
	t.Helper()
	g := health.Group{Name: health.GroupMail, ConnectInterval: 1e9, FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true,
		Targets: []*probe.Target{{Name: "mbox03", Protocol: "imap", Host: "127.0.0.1", Port: 143}}}
	e, err := health.New([]health.Group{g}, passChecker{}, health.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestAdminStatePath(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/backline:/var/lib/other")
	if got := adminStatePath(&config.Config{}); got != "/var/lib/backline/admin-state.json" {
		t.Errorf("from STATE_DIRECTORY: %q", got)
	}
	cfg := &config.Config{}
	cfg.Server.StateFile = "/srv/state.json"
	if got := adminStatePath(cfg); got != "/srv/state.json" {
		t.Errorf("configured: %q", got)
	}
	t.Setenv("STATE_DIRECTORY", "relative")
	if got := adminStatePath(&config.Config{}); got != "" {
		t.Errorf("relative STATE_DIRECTORY: %q", got)
	}
	t.Setenv("STATE_DIRECTORY", "")
	if got := adminStatePath(&config.Config{}); got != "" {
		t.Errorf("none: %q", got)
	}
}

// TestAdminStateSurvivesRestart: drain, "restart" (a new engine on the same
// file), still drained; a corrupt file is logged, not fatal.
func TestAdminStateSurvivesRestart(t *testing.T) {
	cfg := &config.Config{}
	cfg.Server.StateFile = filepath.Join(t.TempDir(), "admin-state.json")
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	e := adminEngine(t)
	setupAdminState(cfg, e, logger)
	drain := health.AdminDrain
	why := "disk swap"
	if _, err := e.SetAdmin("mbox03", health.AdminChange{State: &drain, Why: &why, Who: "ops"}); err != nil {
		t.Fatal(err)
	}
	e2 := adminEngine(t)
	setupAdminState(cfg, e2, logger)
	if a, _ := e2.GetAdmin("mbox03"); a.State != health.AdminDrain || a.Why != why {
		t.Fatalf("after restart: %+v", a)
	}
	if b := e2.Snapshot().Backends[0]; b.Eligible || b.Reason != health.ReasonDrain {
		t.Fatalf("snapshot after restart: %+v", b)
	}

	if err := os.WriteFile(cfg.Server.StateFile, []byte(`{"version":1,"backends":[{"id":`), 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	e3 := adminEngine(t)
	setupAdminState(cfg, e3, logger)
	if a, _ := e3.GetAdmin("mbox03"); a.Source != health.SourceConfig {
		t.Fatalf("corrupt file applied: %+v", a)
	}
	if !strings.Contains(logs.String(), "admin state file not loaded") {
		t.Errorf("no error logged: %s", logs.String())
	}
	// The next change replaces the corrupt file.
	if _, err := e3.SetAdmin("mbox03", health.AdminChange{State: &drain}); err != nil {
		t.Fatal(err)
	}
	if recs, err := health.LoadAdminFile(cfg.Server.StateFile); err != nil || len(recs) != 1 {
		t.Fatalf("rewritten file: %v %v", recs, err)
	}
}
