package lua

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/redact"
)

// OfflineBackend is one entry of the --backends file of `backline lua test`.
type OfflineBackend struct {
	Name          string  `json:"name"`
	Protocol      string  `json:"protocol"`
	Host          string  `json:"host"`
	Port          int     `json:"port"`
	Healthy       *bool   `json:"healthy"` // default true
	RequestURI    string  `json:"request_uri"`
	TestUsername  string  `json:"test_username"`
	TestPassword  string  `json:"test_password"`
	TLS           bool    `json:"tls"`
	TLSMode       string  `json:"tls_mode"`
	TLSSkipVerify bool    `json:"tls_skip_verify"`
	HAProxyV2     bool    `json:"haproxy_v2"`
	DeepCheck     bool    `json:"deep_check"`
	Backup        bool    `json:"backup"` // a failover target (server.backup)
	LastError     string  `json:"last_error"`
	LatencyMS     float64 `json:"latency_ms"`
}

// ParseBackendsJSON reads a JSON array of OfflineBackend; unknown keys are errors.
func ParseBackendsJSON(data []byte) ([]OfflineBackend, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var out []OfflineBackend
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("backends: %w", err)
	}
	for i, b := range out {
		if b.Host == "" || b.Port < 1 || b.Port > 65535 {
			return nil, fmt.Errorf("backends[%d]: host and a port between 1 and 65535 are required", i)
		}
	}
	return out, nil
}

// StaticSource is a health.Source that always returns the same snapshot;
// Targets (by backend ID) give the test passwords for exposure and redaction.
type StaticSource struct {
	Snap    *health.Snapshot
	Targets map[string]*probe.Target
}

// Snapshot implements health.Source.
func (s StaticSource) Snapshot() *health.Snapshot { return s.Snap }

// ProbeTarget implements health.TargetLookup.
func (s StaticSource) ProbeTarget(id string) (*probe.Target, bool) {
	t, ok := s.Targets[id]
	return t, ok
}

// TestPasswords implements health.TargetLookup.
func (s StaticSource) TestPasswords() []string {
	var out []string
	for _, t := range s.Targets {
		out = append(out, t.Secrets()...)
	}
	return out
}

// SnapshotOf builds a mail-group source from offline backends.
func SnapshotOf(backends []OfflineBackend) StaticSource {
	src := StaticSource{Snap: &health.Snapshot{}, Targets: map[string]*probe.Target{}}
	for _, b := range backends {
		mode := probe.TLSMode(b.TLSMode)
		if mode == "" {
			mode = probe.TLSPlain
			if b.TLS {
				mode = probe.TLSImplicit
			}
		}
		healthy := b.Healthy == nil || *b.Healthy
		t := &probe.Target{
			Name: b.Name, Protocol: b.Protocol, Host: b.Host, Port: b.Port,
			TLSMode:   mode,
			TLSConfig: &tls.Config{ServerName: b.Host, InsecureSkipVerify: b.TLSSkipVerify, MinVersion: tls.VersionTLS12}, //nolint:gosec // as configured
			HAProxyV2: b.HAProxyV2, DeepCheck: b.DeepCheck, RequestURI: b.RequestURI,
			Username: b.TestUsername, Password: b.TestPassword,
		}
		hb := health.BackendFor(health.GroupMail, t, healthy)
		hb.Connect.LastError = b.LastError
		hb.Backup = b.Backup
		hb.Connect.Latency = time.Duration(b.LatencyMS * float64(time.Millisecond))
		src.Snap.Backends = append(src.Snap.Backends, hb)
		src.Targets[hb.ID] = t
	}
	return src
}

// refusingChecker stands in for real probes when --live-checks is not given,
// so a script under test makes no connections by surprise.
type refusingChecker struct{}

func (refusingChecker) Check(context.Context, *probe.Target, probe.Phase, probe.Options) probe.Result {
	return probe.Result{Reason: probe.ReasonConfig, Err: errors.New("live checks are disabled (run with --live-checks)")}
}

// OfflineOptions configure RunOffline.
type OfflineOptions struct {
	ScriptPath  string
	PackagePath string
	// InitScripts run once before the filter, as serve runs
	// lua.config.init_script_paths (a failing one is logged, not fatal).
	InitScripts []string
	Request     *Request
	Backends    []OfflineBackend
	// Checker runs check_backend_connection; nil refuses every check.
	Checker               probe.Checker
	Timeout               time.Duration
	ExposeTestCredentials bool
	// Log receives the script's log lines (debug level and up).
	Log io.Writer
	// Host, when set, is the Lua host (with SetRedis for nauthilus_redis).
	Host *Host
}

// RunOffline runs one filter script once, as `backline lua test` does.
func RunOffline(ctx context.Context, o OfflineOptions) (*FilterOutcome, error) {
	checker := o.Checker
	if checker == nil {
		checker = refusingChecker{}
	}
	logOut := o.Log
	if logOut == nil {
		logOut = io.Discard
	}
	req := o.Request
	if req == nil {
		req = &Request{}
	}
	yes := true
	flag := func() *bool { return &yes }
	e, err := NewEngine(Options{
		Config: config.Lua{
			Filters: []config.LuaFilter{{Name: filepath.Base(o.ScriptPath), ScriptPath: o.ScriptPath,
				WhenAuthenticated: flag(), WhenUnauthenticated: flag(), WhenNoAuth: flag()}},
			Config: config.LuaConfig{PackagePath: o.PackagePath, VMPoolSize: 1, ScriptTimeout: o.Timeout,
				ExposeTestCredentials: o.ExposeTestCredentials, InitScriptPaths: o.InitScripts},
		},
		Health:  SnapshotOf(o.Backends),
		Checker: checker,
		Logger:  slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Host:    o.Host,
	})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	e.RunInitScripts(ctx)
	out, err := e.RunFilters(ctx, req)
	if out != nil && req.HTTP != nil {
		out.ResponseHeaders, out.ResponseStatus = req.HTTP.ResponseHeaders(), req.HTTP.Status()
	}
	return out, err
}

// WriteOutcome prints an outcome for people: one "key: value" per line.
func WriteOutcome(w io.Writer, o *FilterOutcome) {
	action := "accept"
	if o.Reject {
		action = "reject"
	}
	fmt.Fprintf(w, "action: %s\n", action)
	fmt.Fprintf(w, "results: %s\n", strings.Join(o.Results, " "))
	if o.Selected != nil {
		fmt.Fprintf(w, "selected: %s:%d\n", o.Selected.Host, o.Selected.Port)
	} else {
		fmt.Fprintln(w, "selected: (none)")
	}
	for _, k := range sortedKeys(o.Attributes) {
		b, _ := json.Marshal(o.Attributes[k])
		fmt.Fprintf(w, "attribute: %s = %s\n", k, b)
	}
	for _, k := range o.Remove {
		fmt.Fprintf(w, "remove: %s\n", k)
	}
	if len(o.Groups) > 0 {
		fmt.Fprintf(w, "groups: %s\n", strings.Join(o.Groups, ", "))
	}
	if len(o.GroupDNs) > 0 {
		fmt.Fprintf(w, "group_dns: %s\n", strings.Join(o.GroupDNs, "; "))
	}
	if o.StatusMessage != "" {
		fmt.Fprintf(w, "status_message: %s\n", o.StatusMessage)
	}
	for _, l := range o.Logs {
		fmt.Fprintf(w, "log: %s=%v\n", l.Key, l.Value)
	}
	for _, name := range ResponseHeaderNames(o.ResponseHeaders) {
		for _, v := range o.ResponseHeaders[name] {
			fmt.Fprintf(w, "response_header: %s: %s\n", name, redact.HeaderValue(name, v))
		}
	}
	if o.ResponseStatus != 0 {
		fmt.Fprintf(w, "response_status: %d\n", o.ResponseStatus)
	}
}
