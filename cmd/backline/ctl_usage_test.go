package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bad command lines exit 2 before anything is sent.
func TestCtlUsageErrors(t *testing.T) {
	f := newFakeCtlAPI(t, 200, `{}`)
	pwFile := writeFile(t, "pw", "hunter22\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "Usage: backline ctl"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"drain"}, "drain: missing ID"},
		{[]string{"show"}, "show: missing ID"},
		{[]string{"drain", ""}, "drain: empty backend ID"},
		{[]string{"drain", "a", "b"}, `drain: unexpected argument "b"`},
		{[]string{"list", "extra"}, `list: unexpected argument "extra"`},
		{[]string{"weight", "mbox03"}, "weight: missing ID N"},
		{[]string{"weight", "mbox03", "257"}, `want a whole number 0..256, got "257"`},
		{[]string{"weight", "mbox03", "1.5"}, `want a whole number 0..256, got "1.5"`},
		{[]string{"weight", "mbox03", "--", "-1"}, `want a whole number 0..256, got "-1"`},
		{[]string{"weight", "mbox03", "-1"}, "flag provided but not defined: -1"},
		{[]string{"health", "mbox03", "sideways"}, `health: want up, down or auto, got "sideways"`},
		{[]string{"drain", "mbox03", "--for", "5x"}, `invalid value "5x" for flag -for`},
		{[]string{"drain", "mbox03", "--for", "-5m"}, "--for must be a positive duration"},
		{[]string{"list", "--for", "5m"}, "list: flag --for does not apply to this command"},
		{[]string{"show", "x", "--why", "because"}, "show: flag --why does not apply"},
		{[]string{"drain", "x", "--reset"}, "drain: flag --reset does not apply"},
		{[]string{"ready", "x", "--reset", "--why", "w"}, "--for and --why do not apply"},
		{[]string{"drain", "x", "--why", strings.Repeat("w", 257)}, "--why is longer than 256 bytes"},
		{[]string{"drain", "x", "--why", "a\x1b[31mred"}, "--why must be printable"},
		{[]string{"list", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"explain"}, "explain: missing USER"},
		{[]string{"explain", "u", "--client-ip", "not-an-ip"}, `--client-ip: not an IP address: "not-an-ip"`},
		{[]string{"explain", "u", "--service", "smtp"}, `--service: want nginx, header or json`},
		{[]string{"explain", "u", "--local-port", "70000"}, "--local-port must be 1..65535"},
		{[]string{"list", "--api", "ftp://x"}, "--api: want a URL"},
		{[]string{"list", "--api", "http://ops:topsecret@127.0.0.1:1"}, "--api must not hold credentials (http://ops:xxxxx@127.0.0.1:1)"},
		{[]string{"list", "--password-file", pwFile}, "--password-file needs --api-user"},
		{[]string{"list", "--api-user", "ops"}, "--api-user needs --password-file"},
		{[]string{"list", "--api-user", "o:ps", "--password-file", pwFile}, "--api-user must not contain ':'"},
		{[]string{"list", "--token-file", pwFile, "--api-user", "ops"}, "exclude each other"},
	} {
		args := append([]string{"ctl", "--api", f.URL}, c.args...)
		code, stdout, stderr := backline(t, args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("ctl %q: exit %d, stderr %q; want exit 2 and %q", c.args, code, stderr, c.want)
		}
		if strings.Contains(stdout+stderr, "topsecret") || strings.Contains(stdout+stderr, "hunter22") {
			t.Errorf("ctl %q shows a password: %s", c.args, stderr)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent for bad command lines", n)
	}
	if code, stdout, _ := backline(t, "help"); code != exitOK || !strings.Contains(stdout, "\n  ctl ") {
		t.Errorf("main usage lacks ctl: %s", stdout)
	}
	if code, stdout, _ := backline(t, "ctl", "-h"); code != exitOK || !strings.Contains(stdout, "explain USER") {
		t.Errorf("ctl -h: exit %d %s", code, stdout)
	}
}

// A wildcard listen address is reached on loopback.
func TestCtlBaseFromListen(t *testing.T) {
	for addr, want := range map[string]string{
		"0.0.0.0:9080":     "http://127.0.0.1:9080",
		"[::]:9081":        "http://[::1]:9081",
		":9082":            "http://127.0.0.1:9082",
		"127.0.0.1:9083":   "http://127.0.0.1:9083",
		"192.0.2.7:80":     "http://192.0.2.7:80",
		"backline.lan:1":   "http://backline.lan:1",
		"[2001:db8::2]:10": "http://[2001:db8::2]:10",
	} {
		if got := ctlBaseFromListen(addr); got != want {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
	}
	for raw, want := range map[string]string{
		"http://127.0.0.1:9080/":       "http://127.0.0.1:9080",
		"https://lb.example/backline/": "https://lb.example/backline",
	} {
		if got, err := ctlParseAPI(raw); err != nil || got != want {
			t.Errorf("--api %s: %s %v, want %s", raw, got, err, want)
		}
	}
}

// --config gives the address (a wildcard becomes loopback) and the API
// credentials, with ${VAR} expansion and password files as serve reads them.
func TestCtlConfigFile(t *testing.T) {
	f := newFakeCtlAPI(t, 200, `{"round":0,"backends":[]}`)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(f.URL, "http://"))
	dir := t.TempDir()
	pw := filepath.Join(dir, "api.pw")
	if err := os.WriteFile(pw, []byte("from-file-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CTL_TEST_USER", "opsuser")
	cfg := writeFile(t, "backline.yml", fmt.Sprintf(`server:
  address: "0.0.0.0:%s"
  api_auth:
    username: ${CTL_TEST_USER}
    password_file: %q
`, port, pw))
	code, stdout, stderr := backline(t, "ctl", "--config", cfg, "list")
	if code != exitOK || !strings.Contains(stdout, "no backends") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	r := f.requests()[0]
	if r.User != "opsuser" || r.Password != "from-file-pw" {
		t.Errorf("credentials %q/%q", r.User, r.Password)
	}

	// A bearer token from the configuration, and --token-file.
	tokCfg := writeFile(t, "token.yml", fmt.Sprintf("server:\n  address: \"127.0.0.1:%s\"\n  api_auth:\n    bearer_token: tok-from-config\n", port))
	if code, _, stderr := backline(t, "ctl", "--config", tokCfg, "list"); code != exitOK {
		t.Fatalf("token config: exit %d %s", code, stderr)
	}
	tokFile := writeFile(t, "tok", "tok-from-file\n")
	if code, _, stderr := backline(t, "ctl", "--api", f.URL, "--token-file", tokFile, "list"); code != exitOK {
		t.Fatalf("token file: exit %d %s", code, stderr)
	}
	reqs := f.requests()
	if reqs[1].Bearer != "tok-from-config" || reqs[2].Bearer != "tok-from-file" {
		t.Errorf("bearer tokens %q %q", reqs[1].Bearer, reqs[2].Bearer)
	}

	// --api wins over server.address; the credentials still come from the file.
	other := newFakeCtlAPI(t, 200, `{"backends":[]}`)
	if code, _, stderr := backline(t, "ctl", "--config", cfg, "--api", other.URL, "list"); code != exitOK {
		t.Fatalf("--api with --config: exit %d %s", code, stderr)
	}
	if r := other.requests(); len(r) != 1 || r[0].User != "opsuser" || r[0].Password != "from-file-pw" {
		t.Errorf("--api with --config: %+v", r)
	}

	// A broken configuration fails with its key path, exit 1.
	bad := writeFile(t, "bad.yml", "server:\n  address: nonsense\n")
	code, _, stderr = backline(t, "ctl", "--config", bad, "list")
	if code != exitFail || !strings.Contains(stderr, "server.address") || strings.Contains(stderr, "reported") {
		t.Errorf("bad config: exit %d %s", code, stderr)
	}
}

func TestCtlLeft(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30m", time.Hour: "1h", 90 * time.Minute: "1h30m", 1500 * time.Millisecond: "2s",
		-time.Second: "0s", time.Hour + 5*time.Second: "1h0m5s",
	} {
		if got := ctlLeft(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}
