package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/backline/backline/internal/testfixture"
)

// buildBackline returns the path of cmd/backline compiled once for this
// test process, so these tests run the real binary the way an operator
// does. Once: every go build links anew (seconds on an idle machine; one
// took 3 minutes under nice 19 on this loaded 2-core machine), and eleven
// tests ask for it within the package's 15 minute go test timeout.
func buildBackline(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if built.dir, err = os.MkdirTemp("", "backline-integration-"); err != nil {
			built.err = err
			return
		}
		bin := filepath.Join(built.dir, "backline")
		cmd := exec.Command(goTool, "build", "-o", bin, "github.com/backline/backline/cmd/backline")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		built.bin = bin
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

var built struct {
	once sync.Once
	dir  string // removed by TestMain when the tests end
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func runBackline(t *testing.T, bin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return cliResult{code, out.String(), errOut.String()}
}

type probeJSON struct {
	OK         bool     `json:"ok"`
	Reason     string   `json:"reason"`
	Error      string   `json:"error"`
	Mechanism  string   `json:"mechanism"`
	Transcript []string `json:"transcript"`
	CertNot    string   `json:"cert_not_after"`
}

// TestCLIProbeDovecot runs `backline probe` against the real Dovecot and
// HAProxy of the fixture.
func TestCLIProbeDovecot(t *testing.T) {
	f := testfixture.Load(t)
	bin := buildBackline(t)
	passwordFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(passwordFile, []byte(f.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := func(name string) string { return strconv.Itoa(f.Port(name)) }
	common := func(name string, extra ...string) []string {
		return append([]string{"probe", "--protocol", "imap", "--host", f.Host, "--port", port(name),
			"--tls-ca-file", f.CAFile, "--tls-server-name", f.ServerName}, extra...)
	}

	t.Run("imaps deep login", func(t *testing.T) {
		r := runBackline(t, bin, common("DOVECOT_A_IMAPS", "--tls", "--deep",
			"--username", f.User, "--password-file", passwordFile)...)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"deep check of imap://", "\n  tls ", "\n  auth ",
			"S: * OK [CAPABILITY IMAP4rev1 SASL-IR", "AUTHENTICATE PLAIN <redacted>", "result: healthy in "} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
		}
		if strings.Contains(r.stdout+r.stderr, f.Password) {
			t.Error("output shows the test password")
		}
	})

	t.Run("imaps wrong password", func(t *testing.T) {
		r := runBackline(t, bin, common("DOVECOT_A_IMAPS", "--tls", "--deep",
			"--username", f.User, "--password", "wrong-password", "--json")...)
		var p probeJSON
		if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if r.code != 1 || p.OK || p.Reason != "auth" || !strings.Contains(p.Error, "AUTHENTICATIONFAILED") {
			t.Errorf("exit %d, %+v", r.code, p)
		}
		if strings.Contains(r.stdout+r.stderr, "wrong-password") {
			t.Error("output shows the password")
		}
	})

	t.Run("imap STARTTLS json", func(t *testing.T) {
		r := runBackline(t, bin, common("DOVECOT_A_IMAP", "--tls-mode", "starttls", "--deep",
			"--username", f.User, "--password-file", passwordFile, "--json")...)
		var p probeJSON
		if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if r.code != 0 || !p.OK || p.CertNot == "" || !strings.Contains(strings.Join(p.Transcript, "\n"), "STARTTLS") {
			t.Errorf("exit %d, %+v\n%s", r.code, p, r.stderr)
		}
	})

	t.Run("LOGIN-only server", func(t *testing.T) {
		r := runBackline(t, bin, common("DOVECOT_D_IMAPS", "--tls", "--deep",
			"--username", f.User, "--password-file", passwordFile, "--json")...)
		var p probeJSON
		if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if r.code != 0 || !p.OK || !strings.HasPrefix(p.Mechanism, "LOGIN") {
			t.Errorf("exit %d, %+v\n%s", r.code, p, r.stderr)
		}
	})

	t.Run("PROXY v2 through HAProxy", func(t *testing.T) {
		r := runBackline(t, bin, "probe", "--protocol", "imap", "--host", f.Host,
			"--port", port("HAPROXY_ACCEPT_PROXY_IMAP"), "--haproxy-v2", "--tls-mode", "starttls", "--deep",
			"--tls-ca-file", f.CAFile, "--tls-server-name", f.ServerName,
			"--username", f.User, "--password-file", passwordFile)
		if r.code != 0 {
			t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("unknown CA", func(t *testing.T) {
		r := runBackline(t, bin, "probe", "--protocol", "imap", "--host", f.Host, "--port", port("DOVECOT_A_IMAPS"),
			"--tls", "--tls-ca-file", f.OtherCAFile, "--tls-server-name", f.ServerName, "--json")
		var p probeJSON
		if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if r.code != 1 || p.Reason != "tls" {
			t.Errorf("exit %d, %+v", r.code, p)
		}
	})

}
