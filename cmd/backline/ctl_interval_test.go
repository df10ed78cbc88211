package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// ctl show prints the interval in use and why; a hostile daemon answer
// cannot put control characters on the terminal.
func TestCtlShowsCheckInterval(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"state":"down","connect_seconds":300,"setting":"down_interval"}`, "check interval:  5m (down: down_interval)"},
		{`{"state":"transitioning","connect_seconds":5,"deep_seconds":5,"setting":"fast_interval"}`, "check interval:  5s (transitioning: fast_interval)"},
		{`{"state":"down","connect_seconds":10}`, "check interval:  10s (down)"},
		{`{"state":"normal","connect_seconds":10,"deep_seconds":60}`, "check interval:  10s connect, 1m deep\n"},
		{`{"state":"normal","connect_seconds":0.5}`, "check interval:  500ms\n"},
		{`{"state":"normal","connect_seconds":5400}`, "check interval:  1h30m\n"},
		{`{"state":"down\u001b[2J","connect_seconds":-1,"setting":"x\u001b]0;"}`, "check interval:  - (down\\x1b[2J: x\\x1b]0;)"},
		{`{"state":"normal","connect_seconds":1e300}`, "check interval:  -\n"},
	} {
		var b ctlBackend
		if err := json.Unmarshal([]byte(`{"id":"mbox01","check_interval":`+tc.json+`}`), &b); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		c := &ctlClient{stdout: &out}
		c.printBackend(b)
		if !strings.Contains(out.String(), tc.want) || strings.Contains(out.String(), "\x1b") {
			t.Errorf("%s: show:\n%q\nwant %q", tc.json, out.String(), tc.want)
		}
	}
	var out strings.Builder
	c := &ctlClient{stdout: &out}
	c.printBackend(ctlBackend{ID: "old-daemon"})
	if strings.Contains(out.String(), "check interval") {
		t.Errorf("a daemon without check_interval shows one:\n%s", out.String())
	}
}
