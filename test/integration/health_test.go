package integration

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
)

type syncBuffer = testutil.LogBuffer

// TestHealthEngineAgainstRealServers runs the engine with the real prober:
// a deep IMAPS check on Dovecot A, a connect check on Dovecot B's POP3, a
// deep check through HAProxy's send-proxy listener to Dovecot C, and a
// closed port. It checks the verdicts, the details kept from the checks, the
// metrics, and that the password shows up in neither logs nor metrics.
func TestHealthEngineAgainstRealServers(t *testing.T) {
	f := testfixture.Load(t)
	build := func(ct config.Target) *probe.Target {
		t.Helper()
		pt, err := probe.NewTarget(&ct)
		if err != nil {
			t.Fatalf("probe.NewTarget(%s): %v", ct.Name, err)
		}
		return pt
	}
	base := config.Target{
		Host: "127.0.0.1", TLSCAFile: f.CAFile, TestUsername: f.User, TestPassword: f.Password,
		AuthMechanism:  "auto",
		ConnectTimeout: 5 * time.Second, TLSTimeout: 5 * time.Second, DeepTimeout: 10 * time.Second,
	}
	with := func(change func(*config.Target)) *probe.Target {
		ct := base
		change(&ct)
		return build(ct)
	}
	targets := []*probe.Target{
		with(func(ct *config.Target) {
			ct.Name, ct.Protocol, ct.Port, ct.TLSMode, ct.DeepCheck = "a-imaps", "imap", f.Port("DOVECOT_A_IMAPS"), "implicit", true
		}),
		with(func(ct *config.Target) {
			ct.Name, ct.Protocol, ct.Port, ct.TLSMode = "b-pop3", "pop3", f.Port("DOVECOT_B_POP3"), "plain"
		}),
		with(func(ct *config.Target) {
			ct.Name, ct.Protocol, ct.Port, ct.TLSMode, ct.DeepCheck = "c-via-haproxy", "imap", f.Port("HAPROXY_SEND_PROXY_IMAP"), "starttls", true
		}),
		with(func(ct *config.Target) {
			ct.Name, ct.Protocol, ct.Port, ct.TLSMode = "closed", "imap", closedPort(t), "plain"
		}),
	}
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	engine, err := health.New([]health.Group{{
		Name: health.GroupMail, ConnectInterval: time.Hour, DeepInterval: time.Hour,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true, Targets: targets,
	}}, &probe.Prober{}, health.Options{
		Logger:     slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		engine.Run(ctx)
	}()
	// One combined round, then stop; the wait is bounded only to fail a hung run.
	deadline := time.Now().Add(60 * time.Second)
	for engine.Snapshot().Round < 1 {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatal("no round finished within 60s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done

	snap := engine.Snapshot()
	byName := map[string]health.Backend{}
	for _, b := range snap.Backends {
		byName[b.Target.Name] = b
	}
	a := byName["a-imaps"]
	if !a.Healthy || !a.Deep.Healthy || a.Mechanism == "" || a.CertNotAfter.IsZero() || a.Deep.LastSuccess.IsZero() {
		t.Errorf("a-imaps: healthy=%v deep=%+v mechanism=%q cert=%v", a.Healthy, a.Deep, a.Mechanism, a.CertNotAfter)
	}
	if b := byName["b-pop3"]; !b.Healthy || b.Connect.LastSuccess.IsZero() {
		t.Errorf("b-pop3: %+v", b.Connect)
	}
	if c := byName["c-via-haproxy"]; !c.Healthy {
		t.Errorf("c-via-haproxy: deep %+v", c.Deep)
	}
	closed := byName["closed"]
	if closed.Healthy || closed.Connect.LastReason != probe.ReasonRefused {
		t.Errorf("closed port: healthy=%v connect=%+v", closed.Healthy, closed.Connect)
	}
	if got := len(snap.Healthy(health.GroupMail, "imap")); got != 2 {
		t.Errorf("healthy imap backends = %d, want 2", got)
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var metricsText strings.Builder
	for _, fam := range families {
		metricsText.WriteString(fam.String())
	}
	for _, want := range []string{"backline_backend_cert_expiry_timestamp_seconds", "backend_servers_status", "connect_refused"} {
		if !strings.Contains(metricsText.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metricsText.String(), f.Password) {
		t.Error("metrics contain the password")
	}
	if out := logs.String(); strings.Contains(out, f.Password) || !strings.Contains(out, `"target":"closed"`) {
		t.Errorf("logs contain the password or lack the closed target's transition:\n%s", out)
	}
}
