package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/backline/backline/internal/demo"
)

// probe --config F --target NAME checks a configured target with the
// file's own TLS settings and secret files: nothing is retyped.
func TestProbeConfiguredTarget(t *testing.T) {
	env, _ := startFakeIMAP(t)
	path := writeFile(t, "demo.yml", env.YAML)
	code, stdout, stderr := backline(t, "probe", "--config", path, "--target", "demo-imaps")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"check of demo-imaps (tls implicit)", "-- TLS established: TLS 1.", "; certificate \"", "result: healthy in "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout+stderr, demo.DemoPassword) {
		t.Errorf("output shows the password")
	}

	code, _, stderr = backline(t, "probe", "--config", path, "--target", "no-such")
	if code != exitUsage || !strings.Contains(stderr, `no target "no-such"`) || !strings.Contains(stderr, "demo-imaps") {
		t.Errorf("unknown target: exit %d %q", code, stderr)
	}
}

// probe --config F --all prints one row per target, every one checked as
// configured; exit 0 only when all are healthy.
func TestProbeAllTargets(t *testing.T) {
	env, _ := startFakeIMAP(t)
	path := writeFile(t, "demo.yml", env.YAML)
	// The demo has one fake that never greets (demo-imap-hung): exit 1.
	code, stdout, stderr := backline(t, "probe", "--config", path, "--all")
	if code != exitFail {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if !strings.HasPrefix(lines[0], "TARGET") || len(lines) != 1+len(env.Backends) {
		t.Fatalf("want a header and %d rows:\n%s", len(env.Backends), stdout)
	}
	for _, b := range env.Backends {
		if !strings.Contains(stdout, b.Name) {
			t.Errorf("no row for %s:\n%s", b.Name, stdout)
		}
	}
	for _, row := range lines[1:] {
		down := strings.Contains(row, " DOWN ")
		if down != strings.HasPrefix(row, "demo-imap-hung ") {
			t.Errorf("row %q", row)
		}
		if !down && !strings.Contains(row, "TLS 1.3, certificate expires ") {
			t.Errorf("healthy TLS row without the TLS summary: %q", row)
		}
	}

	code, stdout, _ = backline(t, "probe", "--config", path, "--all", "--json")
	var reports []probeReport
	if err := json.Unmarshal([]byte(stdout), &reports); err != nil || code != exitFail || len(reports) != len(env.Backends) {
		t.Fatalf("--json: exit %d, %d reports, %v\n%s", code, len(reports), err, stdout)
	}
	for _, r := range reports {
		if r.OK == (r.Target == "demo-imap-hung") || r.Group == "" || r.RemoteAddr == "" {
			t.Errorf("report %+v", r)
		}
		if r.OK && (r.TLSVersion == "" || r.CertSubject == "") {
			t.Errorf("report without TLS details %+v", r)
		}
	}
}

func TestProbeConfigErrorsAreTheFilesErrors(t *testing.T) {
	path := writeFile(t, "bad.yml", "auth:\n  services:\n    enabled: [backend_health_checks]\n    backend_health_checks:\n      targets:\n        - protocol: imap\n")
	code, _, stderr := backline(t, "probe", "--config", path, "--all")
	if code != exitFail || !strings.Contains(stderr, "targets[0].host") || !strings.Contains(stderr, "line") {
		t.Errorf("exit %d %q", code, stderr)
	}
}
