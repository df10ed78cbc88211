package lua

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"

	"go.uber.org/goleak"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type syncBuffer = testutil.LogBuffer

// recordingChecker remembers the targets it was asked about and answers
// with a plain TCP dial, so tests see both the built target and a real result.
type recordingChecker struct {
	mu      sync.Mutex
	targets []probe.Target
}

func (c *recordingChecker) Check(ctx context.Context, t *probe.Target, phase probe.Phase, _ probe.Options) probe.Result {
	c.mu.Lock()
	c.targets = append(c.targets, *t)
	c.mu.Unlock()
	if phase != probe.PhaseConnect {
		return probe.Result{Err: errors.New("unexpected phase " + string(phase))}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.Address())
	if err != nil {
		return probe.Result{Err: err, Reason: probe.Classify(err)}
	}
	conn.Close()
	return probe.Result{OK: true, Phase: probe.PhaseConnect}
}

func (c *recordingChecker) seen() []probe.Target {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]probe.Target(nil), c.targets...)
}

// acceptingListener accepts and closes connections until the test ends.
func acceptingListener(t *testing.T) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(testutil.ServeTCP(t, func(c net.Conn) { c.Close() }))
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// refusedPort is a port that was just free: connecting is refused.
func refusedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func target(name, host string, port int) *probe.Target {
	return &probe.Target{Name: name, Protocol: "imap", Host: host, Port: port, TLSMode: probe.TLSPlain,
		TLSConfig: &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}}
}

func snapshotOf(backends ...health.Backend) StaticSource {
	return StaticSource{Snap: &health.Snapshot{Backends: backends}}
}

func mail(t *probe.Target, healthy bool) health.Backend {
	return health.BackendFor(health.GroupMail, t, healthy)
}

// writeScript writes src to dir/name, replacing {{PORT}}.
func writeScript(t *testing.T, name, src string, port int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	src = strings.ReplaceAll(src, "{{PORT}}", strconv.Itoa(port))
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func testdataScript(t *testing.T, name string, port int) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return writeScript(t, name, string(src), port)
}

type engineSetup struct {
	filters []config.LuaFilter
	cfg     config.LuaConfig
	health  health.Source
	checker probe.Checker
}

// filter is a filter in both default modes running src.
func filter(t *testing.T, name, src string) config.LuaFilter {
	return config.LuaFilter{Name: name, ScriptPath: writeScript(t, name+".lua", src, 0)}
}

func newEngine(t *testing.T, s engineSetup) (*Engine, *syncBuffer) {
	t.Helper()
	return newEngineWith(t, s, nil)
}

// newEngineWith lets a test adjust the engine before its first run.
func newEngineWith(t *testing.T, s engineSetup, adjust func(*Engine)) (*Engine, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if s.cfg.ScriptTimeout == 0 {
		s.cfg.ScriptTimeout = 10 * time.Second
	}
	if s.cfg.VMPoolSize == 0 {
		s.cfg.VMPoolSize = 4
	}
	e, err := NewEngine(Options{
		Config:  config.Lua{Filters: s.filters, Config: s.cfg},
		Health:  s.health,
		Checker: s.checker,
		Logger:  newTestLogger(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(e)
	}
	t.Cleanup(e.Close)
	return e, logs
}

// runOne runs a single-filter engine with src.
func runOne(t *testing.T, src string, s engineSetup) (*FilterOutcome, error, *syncBuffer) {
	t.Helper()
	s.filters = append(s.filters, filter(t, "f", src))
	e, logs := newEngine(t, s)
	out, err := e.RunFilters(context.Background(), &Request{Username: "alice", Password: "s3cret-Passw0rd"})
	return out, err, logs
}

func logValue(o *FilterOutcome, key string) (any, bool) {
	for _, l := range o.Logs {
		if l.Key == key {
			return l.Value, true
		}
	}
	return nil, false
}

const acceptReturn = "return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK"

func writeScriptAt(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
}

func configWithPackagePath(p string) config.LuaConfig { return config.LuaConfig{PackagePath: p} }

func newTestLogger(logs *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runMainStatusParts runs src as dir/main.lua with pkgDir on package_path
// and returns its status message split at "|", which must give n parts.
func runMainStatusParts(t *testing.T, dir, src, pkgDir string, n int) []string {
	t.Helper()
	writeScriptAt(t, dir, "main.lua", src)
	e, _ := newEngine(t, engineSetup{
		filters: []config.LuaFilter{{Name: "main", ScriptPath: filepath.Join(dir, "main.lua")}},
		cfg:     config.LuaConfig{PackagePath: pkgDir + "/?.lua"},
	})
	out, err := e.RunFilters(context.Background(), &Request{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(out.StatusMessage, "|")
	if len(parts) != n {
		t.Fatalf("status = %q", out.StatusMessage)
	}
	return parts
}
