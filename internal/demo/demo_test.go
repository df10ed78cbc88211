package demo

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/backline/backline/internal/probe"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFakesPassTheRealProbe runs the daemon's probe code once against every
// fake: the healthy ones pass their deep check, the hung one times out.
func TestFakesPassTheRealProbe(t *testing.T) {
	env, err := Start("127.0.0.1:9080")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	hc := env.Config.Auth.Services.BackendHealthChecks
	if len(hc.Targets) != len(env.Backends) {
		t.Fatalf("%d targets for %d fakes", len(hc.Targets), len(env.Backends))
	}
	broken := map[string]bool{}
	for _, b := range env.Backends {
		broken[b.Name] = b.Broken
	}
	prober := &probe.Prober{}
	for i := range hc.Targets {
		ct := &hc.Targets[i]
		t.Run(ct.Name, func(t *testing.T) {
			target, err := probe.NewTarget(ct)
			if err != nil {
				t.Fatal(err)
			}
			res := prober.Check(context.Background(), target, probe.PhaseDeep, probe.Options{Transcript: true})
			transcript := strings.Join(res.Transcript, "\n")
			if broken[ct.Name] {
				if res.OK || res.Reason != probe.ReasonTimeout {
					t.Errorf("broken fake: ok=%v reason=%q err=%v", res.OK, res.Reason, res.Err)
				}
				return
			}
			if !res.OK {
				t.Fatalf("%v (%s)\n%s", res.Err, res.Reason, transcript)
			}
			if strings.Contains(transcript, DemoPassword) {
				t.Errorf("transcript shows the password:\n%s", transcript)
			}
			if ct.Protocol != "http" && !strings.Contains(transcript, "<redacted>") {
				t.Errorf("no redacted login in the transcript:\n%s", transcript)
			}
			if res.CertNotAfter.IsZero() {
				t.Error("no certificate seen: TLS did not run")
			}
		})
	}
}

// TestIMAPTranscript pins the fake IMAP server's lines, which follow
// Dovecot's, for a PLAIN login with SASL-IR.
func TestIMAPTranscript(t *testing.T) {
	env, err := Start("127.0.0.1:9080")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	target, err := probe.NewTarget(&env.Config.Auth.Services.BackendHealthChecks.Targets[0])
	if err != nil {
		t.Fatal(err)
	}
	res := (&probe.Prober{}).Check(context.Background(), target, probe.PhaseDeep, probe.Options{Transcript: true})
	if !res.OK {
		t.Fatal(res.Err)
	}
	want := []string{
		"S: * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] backline demo IMAP ready.",
		"C: a1 AUTHENTICATE PLAIN <redacted>",
		"S: a1 OK Logged in",
		"C: a2 LOGOUT",
	}
	var got []string
	for _, l := range res.Transcript {
		if strings.HasPrefix(l, "S: ") || strings.HasPrefix(l, "C: ") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.Mechanism != "PLAIN-IR" {
		t.Errorf("mechanism %q", res.Mechanism)
	}
}

func TestWrongPasswordFails(t *testing.T) {
	env, err := Start("127.0.0.1:9080")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	for i := range 4 { // the four healthy fakes
		ct := env.Config.Auth.Services.BackendHealthChecks.Targets[i]
		target, err := probe.NewTarget(&ct)
		if err != nil {
			t.Fatal(err)
		}
		target.Password = "wrong-password"
		res := (&probe.Prober{}).Check(context.Background(), target, probe.PhaseDeep, probe.Options{})
		if res.OK || res.Reason != probe.ReasonAuth {
			t.Errorf("%s with a wrong password: ok=%v reason=%q err=%v", ct.Name, res.OK, res.Reason, res.Err)
		}
	}
}

func TestCloseRemovesFiles(t *testing.T) {
	env, err := Start("127.0.0.1:9080")
	if err != nil {
		t.Fatal(err)
	}
	caFile := env.CAFile
	env.Close()
	env.Close() // a second Close is harmless
	if _, err := os.Stat(caFile); !os.IsNotExist(err) {
		t.Errorf("CA file still there after Close: %v", err)
	}
}
