package probe

import (
	"context"
	"net"
	"testing"
)

// Issue 9 item 9: health needs to know whether a failed deep check got past
// its connect phase, so a combined round can record the connect phase too.
func TestCheckReportsTheFailedPhase(t *testing.T) {
	refused := func(t *testing.T) *Target {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		return &Target{Name: "gone", Protocol: "imap", Host: "127.0.0.1", Port: port, DeepCheck: true}
	}
	cases := []struct {
		name   string
		target func(t *testing.T) *Target
		phase  Phase
		want   Phase
	}{
		{"refused, deep check", refused, PhaseDeep, PhaseConnect},
		{"refused, connect check", refused, PhaseConnect, PhaseConnect},
		{"implicit TLS against a plain server", func(t *testing.T) *Target {
			srv := startFake(t, script("S: * OK plain text where TLS was expected", "-- close"))
			return newTarget(t, "imap", srv, TLSImplicit)
		}, PhaseDeep, PhaseConnect},
		{"wrong password", func(t *testing.T) *Target {
			srv := startFake(t, script("-- TLS", "S: "+imapATLSGreeting, "C: a1 AUTHENTICATE PLAIN "+testPlainBlob,
				"S: a1 NO [AUTHENTICATIONFAILED] Authentication failed.", "C: a2 LOGOUT"))
			return newTarget(t, "imap", srv, TLSImplicit)
		}, PhaseDeep, PhaseDeep},
		{"success", func(t *testing.T) *Target {
			srv := startFake(t, script("-- TLS", "S: "+imapATLSGreeting, "C: a1 AUTHENTICATE PLAIN "+testPlainBlob,
				"S: a1 OK Logged in", "C: a2 LOGOUT"))
			return newTarget(t, "imap", srv, TLSImplicit)
		}, PhaseDeep, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := (&Prober{}).Check(context.Background(), tc.target(t), tc.phase, Options{})
			if res.FailedPhase != tc.want {
				t.Errorf("FailedPhase = %q, want %q (ok=%v reason=%q err=%v)", res.FailedPhase, tc.want, res.OK, res.Reason, res.Err)
			}
		})
	}
}
