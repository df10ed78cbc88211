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

// ctl list has a CHECK column: connect_check, "+deep" for deep-checked
// backends, "-" from a daemon that reports neither; a hostile value cannot
// move the columns or reach the terminal raw.
func TestCtlListShowsCheckKind(t *testing.T) {
	var backends []ctlBackend
	if err := json.Unmarshal([]byte(`[
 {"id":"mbox01","group":"backend_health_checks","protocol":"imap","host":"10.0.0.1","port":143,"healthy":true,"eligible":true,"weight":1,"deep_check":true,"connect_check":"greeting"},
 {"id":"mx-tarpit","group":"backend_health_checks","protocol":"smtp","host":"10.0.0.2","port":25,"healthy":true,"eligible":true,"weight":1,"connect_check":"tcp"},
 {"id":"old","group":"backend_health_checks","protocol":"imap","host":"10.0.0.3","port":143,"healthy":true,"eligible":true,"weight":1},
 {"id":"odd","group":"backend_health_checks","protocol":"imap","host":"10.0.0.4","port":143,"healthy":true,"eligible":true,"weight":1,"connect_check":"tcp\u001b[2J\t\r\nx"}]`), &backends); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	(&ctlClient{stdout: &out}).printList(backends)
	lines := strings.Split(out.String(), "\n")
	header := strings.Fields(lines[0])
	col := -1
	for i, h := range header {
		if h == "CHECK" {
			col = i
		}
	}
	if col != 3 {
		t.Fatalf("no CHECK column after PROTOCOL: %q", lines[0])
	}
	want := map[string]string{"mbox01": "greeting+deep", "mx-tarpit": "tcp", "old": "-"}
	for _, l := range lines[1:5] {
		f := strings.Fields(l)
		if w, ok := want[f[0]]; ok && (len(f) != len(header) || f[col] != w) {
			t.Errorf("row %q: want CHECK %q", l, w)
		}
		if f[0] == "odd" && !strings.Contains(l, `tcp\x1b[2J x`) {
			t.Errorf("hostile row %q: want the value escaped", l)
		}
	}
	if strings.ContainsAny(out.String(), "\x1b\r") {
		t.Errorf("control characters in:\n%q", out.String())
	}
}
