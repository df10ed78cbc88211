package main

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/backline/backline/internal/demo"
)

// startFakeIMAP starts the demo's fakes and returns the implicit-TLS IMAP
// one's port and the CA that signed its certificate.
func startFakeIMAP(t *testing.T) (env *demo.Env, port string) {
	t.Helper()
	env, err := demo.Start("127.0.0.1:9080")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	for _, b := range env.Backends {
		if b.Name == "demo-imaps" {
			return env, strconv.Itoa(b.Port)
		}
	}
	t.Fatal("no demo-imaps fake")
	return nil, ""
}

func TestProbeHealthyIMAP(t *testing.T) {
	env, port := startFakeIMAP(t)
	code, stdout, stderr := backline(t, "probe", "--protocol", "imap", "--host", "127.0.0.1", "--port", port,
		"--tls", "--tls-ca-file", env.CAFile, "--deep", "--username", demo.DemoUser, "--password-file", env.PasswordFile)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"deep check of imap://127.0.0.1:" + port + " (tls implicit)",
		"\nsteps:\n  connect ", "\n  tls ", "\n  greeting ", "\n  auth ",
		"\ntranscript:\n",
		"  S: * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] backline demo IMAP ready.\n",
		"  C: a1 AUTHENTICATE PLAIN <redacted>\n",
		"  S: a1 OK Logged in\n",
		"result: healthy in ", ", mechanism PLAIN-IR, certificate valid until ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout+stderr, demo.DemoPassword) {
		t.Errorf("output shows the password:\n%s\n%s", stdout, stderr)
	}
}

func TestProbeJSON(t *testing.T) {
	env, port := startFakeIMAP(t)
	code, stdout, stderr := backline(t, "probe", "--protocol", "imap", "--host", "127.0.0.1", "--port", port,
		"--tls", "--tls-ca-file", env.CAFile, "--deep", "--username", demo.DemoUser, "--password", demo.DemoPassword,
		"--auth-mechanism", "plain", "--timeout", "3s", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var r struct {
		Target       string   `json:"target"`
		Phase        string   `json:"phase"`
		OK           bool     `json:"ok"`
		Reason       *string  `json:"reason"`
		DurationMS   float64  `json:"duration_ms"`
		Transcript   []string `json:"transcript"`
		CertNotAfter string   `json:"cert_not_after"`
		Mechanism    string   `json:"mechanism"`
		Steps        []struct {
			Name       string  `json:"name"`
			DurationMS float64 `json:"duration_ms"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, stdout)
	}
	if !r.OK || r.Phase != "deep" || r.Reason != nil || r.Mechanism != "PLAIN-IR" || r.CertNotAfter == "" ||
		r.Target != "imap://127.0.0.1:"+port || r.DurationMS <= 0 || len(r.Steps) < 4 {
		t.Errorf("report: %+v", r)
	}
	if !strings.Contains(strings.Join(r.Transcript, "\n"), "C: a1 AUTHENTICATE PLAIN <redacted>") {
		t.Errorf("transcript: %q", r.Transcript)
	}
	if strings.Contains(stdout, demo.DemoPassword) {
		t.Error("JSON shows the password")
	}
}

func TestProbeWrongPassword(t *testing.T) {
	env, port := startFakeIMAP(t)
	code, stdout, _ := backline(t, "probe", "--protocol", "imap", "--host", "127.0.0.1", "--port", port,
		"--tls", "--tls-ca-file", env.CAFile, "--deep", "--username", demo.DemoUser, "--password", "not-it", "--json")
	var r struct {
		OK     bool   `json:"ok"`
		Reason string `json:"reason"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if code != exitFail || r.OK || r.Reason != "auth" || strings.Contains(stdout, "not-it") {
		t.Errorf("exit %d, report %+v\n%s", code, r, stdout)
	}
}

func TestProbeRefusedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // nothing listens there now
	code, stdout, _ := backline(t, "probe", "--protocol", "pop3", "--host", "127.0.0.1", "--port", port)
	if code != exitFail || !strings.Contains(stdout, "result: UNHEALTHY after ") || !strings.Contains(stdout, "(connect_refused)") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
}

func TestProbeBadFlags(t *testing.T) {
	base := []string{"probe", "--protocol", "imap", "--host", "127.0.0.1", "--port", "993"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"probe", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"probe", "--protocol", "imap", "--port", "993"}, "--host: is required"},
		{[]string{"probe", "--protocol", "imap", "--host", "127.0.0.1"}, "--port: is required"},
		{[]string{"probe", "--protocol", "gopher", "--host", "h", "--port", "70"}, `--protocol: unknown protocol "gopher"`},
		{[]string{"probe", "--protocol", "imap", "--host", "127.0.0.1", "--port", "x"}, `invalid value "x" for flag -port`},
		{append(base, "--tls", "--tls-mode", "starttls", "--deep"), "--tls-mode: tls: true means implicit TLS and contradicts"},
		{append(base, "--timeout", "soon"), "--timeout: invalid duration"},
		{append(base, "--password", "a", "--password-file", "f"), "--password and --password-file: give only one"},
		{append(base, "--deep", "--username", "u"), "--username: needs --password or --password-file as well"},
		{append(base, "--deep", "--auth-mechanism", "CRAM-MD5"), "--auth-mechanism: "},
		{append(base, "--username", "u", "--password", "p"), "need --deep (without it no login is tried)"},
		{append(base, "--auth-mechanism", "PLAIN"), "need --deep"},
		{append(base, "--haproxy-v2-command", "shout"), "--haproxy-v2-command: "},
		{append(base, "--tls", "--tls-cert-file", "c.pem"), "--tls-cert-file: needs --tls-key-file as well"},
		{[]string{"probe", "--target", "a"}, "--target and --all need --config FILE"},
		{[]string{"probe", "--config", "x.yml"}, "--config needs --target NAME or --all"},
		{[]string{"probe", "--config", "x.yml", "--all", "--target", "a"}, "--target and --all: give only one"},
		{[]string{"probe", "--config", "x.yml", "--all", "--port", "1"}, "--port: the target comes from --config"},
		{append(base, "extra"), `unexpected argument "extra"`},
	} {
		code, stdout, stderr := backline(t, c.args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("backline %q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, stdout, stderr, c.want)
		}
	}
}

// TestProbePasswordWithDollar keeps a "$" in a password away from the
// environment expansion of the configuration code.
func TestProbePasswordWithDollar(t *testing.T) {
	f := probeFlags{protocol: "imap", host: "127.0.0.1", port: 993, tls: true, deep: true,
		username: "u", password: "pa${HOME}ss"}
	target, problems := f.probeTarget()
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if target.Password != "pa${HOME}ss" {
		t.Errorf("password became %q", target.Password)
	}
}

// TestProbeLongTimeout: a one-shot probe has no interval for its timeouts to
// fit in, so --timeout up to the 1m maximum is accepted with implicit TLS.
func TestProbeLongTimeout(t *testing.T) {
	f := probeFlags{protocol: "imap", host: "127.0.0.1", port: 993, tls: true, deep: true,
		username: "u", password: "pw", timeout: "1m"}
	if _, problems := f.probeTarget(); len(problems) > 0 {
		t.Fatal(problems)
	}
}
