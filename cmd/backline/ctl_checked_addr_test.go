package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// ctl show prints the address the last passed check reached, cleaned of
// control characters a hostile daemon answer could carry.
func TestCtlShowsCheckedAddr(t *testing.T) {
	var b ctlBackend
	if err := json.Unmarshal([]byte(`{"id":"mbox01","host":"mail.example.test","port":143,"checked_addr":"192.0.2.7\u001b[2J"}`), &b); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	c := &ctlClient{stdout: &out}
	c.printBackend(b)
	if !strings.Contains(out.String(), "checked address:") || !strings.Contains(out.String(), "192.0.2.7") ||
		strings.Contains(out.String(), "\x1b") {
		t.Errorf("show:\n%q", out.String())
	}
	out.Reset()
	c.printBackend(ctlBackend{ID: "mbox02", Host: "10.0.0.12", Port: 143})
	if strings.Contains(out.String(), "checked") {
		t.Errorf("a backend never checked shows an address:\n%s", out.String())
	}
}

func TestCtlExplainShowsCheckedAddr(t *testing.T) {
	var ex ctlExplain
	if err := json.Unmarshal([]byte(`{"status":"ok","selected_by":"policy:first","backend":{"id":"mbox01","host":"mail.example.test","port":143,"checked_addr":"2001:db8::7"}}`), &ex); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	c := &ctlClient{stdout: &out}
	c.printExplain("alice", ex)
	if !strings.HasPrefix(out.String(), "alice -> mbox01 (mail.example.test:143, checked 2001:db8::7), selected by policy:first\n") {
		t.Errorf("explain:\n%s", out.String())
	}
}

// While checks are paused ctl show says the address is the last check's.
func TestCtlShowsCheckedAddrWhilePaused(t *testing.T) {
	var b ctlBackend
	if err := json.Unmarshal([]byte(`{"id":"mbox01","host":"mail.example.test","port":143,"checked_addr":"192.0.2.7",
		"admin":{"state":"ready","weight":1,"health":"auto","checks_paused":true}}`), &b); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	(&ctlClient{stdout: &out}).printBackend(b)
	if !strings.Contains(out.String(), "192.0.2.7 (checks paused: the last check's, not re-resolved)") {
		t.Errorf("show:\n%s", out.String())
	}
	b.Admin.ChecksPaused = false
	out.Reset()
	(&ctlClient{stdout: &out}).printBackend(b)
	if strings.Contains(out.String(), "not re-resolved") {
		t.Errorf("show without a pause:\n%s", out.String())
	}
}
