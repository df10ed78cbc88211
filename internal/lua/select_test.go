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

// TestSelectBackendServerRejectsNumericNonAddresses: a host that is not a
// valid IP address but looks numeric is no host name (RFC 1123 §2.1: a
// top-level label is never all-numeric). glibc's getaddrinfo, which Go uses
// with the cgo resolver, reads such names as inet_aton addresses:
// "2130706433" and "0x7f.1" are 127.0.0.1, "0" is 0.0.0.0, "010.0.0.1" is
// 8.0.0.1, so nginx would be sent somewhere the script never named.
func TestSelectBackendServerRejectsNumericNonAddresses(t *testing.T) {
	for _, host := range []string{"0", "2130706433", "0x7f.1", "1.0x7f", "0X7F", "1.2.3", "999.1.1.1", "010.0.0.1", "127.000.0.1", "127.0.0.1."} {
		call := `("` + host + `", 143)`
		src := "function nauthilus_call_filter(r) nauthilus_backend.select_backend_server" + call + " " + acceptReturn + " end"
		out, err, _ := runOne(t, src, engineSetup{})
		if err == nil {
			t.Errorf("%s: no error, selected %+v", call, out.Selected)
		}
	}
	for _, host := range []string{"10.0.0.1", "1a.example", "0xcafe.example", "mail1", "123.example.org"} {
		call := `("` + host + `", 143)`
		src := "function nauthilus_call_filter(r) nauthilus_backend.select_backend_server" + call + " " + acceptReturn + " end"
		if _, err, _ := runOne(t, src, engineSetup{}); err != nil {
			t.Errorf("%s: %v", call, err)
		}
	}
}
