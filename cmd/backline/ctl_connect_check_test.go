package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// ctl show prints connect_check as the daemon reports it, cleaned of
// control characters, and nothing for daemons before the field.
func TestCtlShowsConnectCheck(t *testing.T) {
	for body, want := range map[string]string{
		`{"id":"mbox01","connect_check":"greeting"}`:       "greeting",
		`{"id":"mx-tarpit","connect_check":"tcp"}`:         "tcp",
		`{"id":"odd","connect_check":"tcp\u001b[2J\r\nx"}`: "tcp",
	} {
		var b ctlBackend
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		(&ctlClient{stdout: &out}).printBackend(b)
		line := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "connect_check:") {
				line = l
			}
		}
		// The hostile value keeps its words, escaped, after "tcp".
		if fields := strings.Fields(line); len(fields) < 2 || !strings.HasPrefix(fields[1], want) {
			t.Errorf("%s: show:\n%s", body, out.String())
		}
		if strings.ContainsAny(out.String(), "\x1b\r") {
			t.Errorf("control characters in:\n%q", out.String())
		}
	}
	var out strings.Builder
	(&ctlClient{stdout: &out}).printBackend(ctlBackend{ID: "old"})
	if strings.Contains(out.String(), "connect_check") {
		t.Errorf("a daemon without the field shows one:\n%s", out.String())
	}
}
