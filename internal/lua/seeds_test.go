package lua

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/probe"
)

func TestSeed000ExamplesRunUnchanged(t *testing.T) {
	port := acceptingListener(t)
	checker := &recordingChecker{}
	e, logs := newEngine(t, engineSetup{
		filters: []config.LuaFilter{{Name: "seed000", ScriptPath: testdataScript(t, "seed000_examples.lua", port)}},
		health: snapshotOf(
			mail(target("a", "10.0.0.1", 143), true),
			mail(target("b", "10.0.0.2", 143), false),
			mail(target("c", "10.0.0.3", 993), true),
		),
		checker: checker,
	})
	out, err := e.RunFilters(context.Background(), &Request{Username: "u", Authenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	want := &FilterOutcome{
		Selected:   &Selection{Host: "10.0.0.50", Port: 993},
		SelectedBy: "seed000",
		Attributes: map[string]any{"custom_field": "new_value"},
		Remove:     []string{"temp_attribute", "internal_id"},
		Logs:       []LogField{{"check_ok", true}, {"check_err", "none"}, {"servers", float64(2)}},
		Results:    []string{"seed000:ok"},
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("outcome (-want +got):\n%s", diff)
	}
	for _, line := range []string{"Found server: 10.0.0.1:143", "Found server: 10.0.0.3:993"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, logs)
		}
	}
	seen := checker.seen()
	if len(seen) != 1 || seen[0].Host != "127.0.0.1" || seen[0].Port != port || seen[0].TLSMode != probe.TLSPlain || seen[0].HAProxyV2 {
		t.Errorf("checked targets = %+v", seen)
	}
}

func TestSeed001And002ExamplesRunUnchanged(t *testing.T) {
	for _, file := range []string{"seed001_examples.lua", "seed002_examples.lua"} {
		t.Run(file, func(t *testing.T) {
			port := acceptingListener(t)
			checker := &recordingChecker{}
			e, logs := newEngine(t, engineSetup{
				filters: []config.LuaFilter{{Name: "seed", ScriptPath: testdataScript(t, file, port)}},
				health: snapshotOf(
					mail(target("a", "10.0.0.1", 143), true),
					mail(target("b", "10.0.0.2", 143), false),
					mail(target("c", "10.0.0.3", 993), true),
				),
				checker: checker,
			})
			out, err := e.RunFilters(context.Background(), &Request{Username: "u"})
			if err != nil {
				t.Fatal(err)
			}
			want := &FilterOutcome{
				Selected:   &Selection{Host: "10.0.0.3", Port: 993},
				SelectedBy: "seed",
				Attributes: map[string]any{"hostip": "10.0.0.3"},
				Remove:     []string{"Proxy-Host"},
				Logs:       []LogField{{"check_error", "none"}},
				Results:    []string{"seed:ok"},
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
			// The legacy 4-argument order is (ip, port, haproxy_v2, tls).
			seen := checker.seen()
			if len(seen) != 1 || seen[0].Port != port || !seen[0].HAProxyV2 || seen[0].TLSMode != probe.TLSImplicit {
				t.Errorf("checked targets = %+v", seen)
			}
			if !strings.Contains(logs.String(), "dynamic_loader") {
				t.Errorf("dynamic_loader not logged at debug:\n%s", logs)
			}
		})
	}
}
