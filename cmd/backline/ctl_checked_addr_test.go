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
