package lua

import (
	"strings"
	"testing"
)

// TestSelectBackendServerRejectsInvalidTarget: an invalid host or port is a
// script error (tempfail for the request) with an ERROR log naming the
// script, never a silent fall-back to the default policy.
func TestSelectBackendServerRejectsInvalidTarget(t *testing.T) {
	for _, call := range []string{
		`("10.0.0.1", -5)`,
		`("10.0.0.1", 0)`,
		`("10.0.0.1", 70000)`,
		`("10.0.0.1", 65536)`,
		`("", 143)`,
		`("imap\r\nAuth-Status: OK", 143)`,
		`("imap\0.example", 143)`,
		`("imap example", 143)`,
		`("imap.example:143", 143)`,
		`("-imap.example", 143)`,
		`("imap..example", 143)`,
		`(string.rep("a", 300), 143)`,
		`("[::1]", 143)`,
	} {
		src := "function nauthilus_call_filter(r) nauthilus_backend.select_backend_server" + call + " " + acceptReturn + " end"
		out, err, logs := runOne(t, src, engineSetup{})
		if err == nil {
			t.Errorf("%s: no error, selected %+v", call, out.Selected)
			continue
		}
		if !strings.Contains(err.Error(), "select_backend_server") {
			t.Errorf("%s: err = %v", call, err)
		}
		if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, `script=f`) {
			t.Errorf("%s: log = %s", call, l)
		}
	}
}

// TestSelectBackendServerAcceptsAnyValidTarget keeps the contract (§2.3):
// any well-formed host and port is accepted, configured or not.
func TestSelectBackendServerAcceptsAnyValidTarget(t *testing.T) {
	for call, want := range map[string]Selection{
		`("10.9.8.7", 1993)`:           {"10.9.8.7", 1993},
		`("imap.example.org", 143)`:    {"imap.example.org", 143},
		`("imap.example.org.", 993)`:   {"imap.example.org.", 993},
		`("mail_1", 1)`:                {"mail_1", 1},
		`("2001:db8::1", 65535)`:       {"2001:db8::1", 65535},
		`("localhost", 143.0)`:         {"localhost", 143},
		`("xn--bcher-kva.example", 2)`: {"xn--bcher-kva.example", 2},
	} {
		src := "function nauthilus_call_filter(r) nauthilus_backend.select_backend_server" + call + " " + acceptReturn + " end"
		out, err, _ := runOne(t, src, engineSetup{})
		if err != nil {
			t.Errorf("%s: %v", call, err)
			continue
		}
		if out.Selected == nil || *out.Selected != want {
			t.Errorf("%s: selected %+v, want %+v", call, out.Selected, want)
		}
	}
}
