package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/probe"
)

// probeFlags are the command-line form of one health-check target.
type probeFlags struct {
	protocol, host         string
	port                   int
	tls                    bool
	tlsMode                string
	tlsCAFile, tlsServer   string
	tlsCertFile, tlsKey    string
	tlsSkipVerify          bool
	haproxyV2              bool
	deep                   bool
	username               string
	password, passwordFile string
	mechanism, requestURI  string
	heloName               string
	connectCheck           string
	expectedStatus         string
	expectedText           string
	timeout                string
	allowPlaintextAuth     bool
	json                   bool
	haproxyV2Command       string
	// tcpSteps are --send, --expect and --expect-regex in the order given.
	tcpSteps []map[string]any
	// config with target or all: the targets of a configuration file.
	config, target string
	all            bool
}

func (f *probeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.protocol, "protocol", "", "imap, pop3, smtp, lmtp, sieve, http or tcp (required)")
	fs.StringVar(&f.host, "host", "", "host name or IP address (required)")
	fs.IntVar(&f.port, "port", 0, "port (required)")
	fs.BoolVar(&f.tls, "tls", false, "implicit TLS (imaps, pop3s, submissions, https)")
	fs.StringVar(&f.tlsMode, "tls-mode", "", "plain, implicit or starttls")
	fs.StringVar(&f.tlsCAFile, "tls-ca-file", "", "CA bundle to verify the server certificate")
	fs.StringVar(&f.tlsServer, "tls-server-name", "", "name expected in the server certificate (default: host)")
	fs.StringVar(&f.tlsCertFile, "tls-cert-file", "", "client certificate (PEM) for servers that require one; needs --tls-key-file")
	fs.StringVar(&f.tlsKey, "tls-key-file", "", "private key of --tls-cert-file")
	fs.BoolVar(&f.tlsSkipVerify, "tls-skip-verify", false, "do not verify the server certificate")
	fs.BoolVar(&f.haproxyV2, "haproxy-v2", false, "send a PROXY protocol v2 header first")
	fs.StringVar(&f.haproxyV2Command, "haproxy-v2-command", "", "local (default: the backend uses the socket addresses) or proxy (send the real address tuple); implies --haproxy-v2")
	fs.BoolVar(&f.deep, "deep", false, "run the deep check: greeting, capabilities, STARTTLS, login")
	fs.StringVar(&f.username, "username", "", "test user for the deep check")
	fs.StringVar(&f.password, "password", "", "test password (prefer --password-file: the command line is visible to other users)")
	fs.StringVar(&f.passwordFile, "password-file", "", "file holding the test password")
	fs.StringVar(&f.mechanism, "auth-mechanism", "", "auto, PLAIN, LOGIN, USERPASS or BASIC")
	fs.StringVar(&f.requestURI, "request-uri", "", "path for http checks")
	fs.StringVar(&f.expectedStatus, "expected-status", "", "http: comma-separated statuses that pass (default 200); needs --deep")
	fs.StringVar(&f.expectedText, "expected-text", "", "http: text the body must contain; needs --deep")
	fs.StringVar(&f.heloName, "helo-name", "", "smtp, lmtp: EHLO/LHLO name (default localhost.localdomain)")
	for _, kind := range []struct{ flag, key, usage string }{
		{"send", "send", "tcp: bytes to send (escapes \\r \\n \\t \\0 \\\\ \\xHH; no line end added); repeat, in order with --expect"},
		{"expect", "expect", "tcp: text the next line must contain; repeatable"},
		{"expect-regex", "expect_regex", "tcp: regular expression the next line must match; repeatable"},
	} {
		fs.Var(tcpStepFlag{steps: &f.tcpSteps, key: kind.key}, kind.flag, kind.usage)
	}
	fs.StringVar(&f.connectCheck, "connect-check", "", "without --deep: greeting (default for mail: read the greeting, then LOGOUT/QUIT) or tcp (close after connecting)")
	fs.StringVar(&f.timeout, "timeout", "", "connect, TLS and deep timeout each (default 5s)")
	fs.BoolVar(&f.allowPlaintextAuth, "allow-plaintext-auth", false, "send credentials without TLS (loopback hosts only)")
	fs.BoolVar(&f.json, "json", false, "print the result as JSON")
	fs.StringVar(&f.config, "config", "", "check targets of this configuration file (with --target or --all) instead of flags")
	fs.StringVar(&f.target, "target", "", "with --config: the target to check, by backend ID, name or host:port")
	fs.BoolVar(&f.all, "all", false, "with --config: check every target and print a table")
}

// Key paths of the one-target configuration the flags become.
const (
	probeServicePath = "auth.services.backend_health_checks"
	probeTargetPath  = probeServicePath + ".targets[0]"
	// passwordStandIn replaces a password containing "$" in the generated
	// YAML, where "${NAME}" would be expanded from the environment.
	passwordStandIn = "probe-password-stand-in"
)

// flagForKey maps configuration keys back to flags for error messages.
var flagForKey = map[string]string{
	"protocol": "--protocol", "host": "--host", "port": "--port", "tls": "--tls",
	"tls_mode": "--tls-mode", "tls_ca_file": "--tls-ca-file", "tls_server_name": "--tls-server-name",
	"tls_skip_verify": "--tls-skip-verify", "tls_cert_file": "--tls-cert-file", "tls_key_file": "--tls-key-file", "haproxy_v2": "--haproxy-v2", "deep_check": "--deep",
	"test_username": "--username", "test_password": "--password", "test_password_file": "--password-file",
	"auth_mechanism": "--auth-mechanism", "request_uri": "--request-uri",
	"expected_status": "--expected-status", "expected_text": "--expected-text", "helo_name": "--helo-name", "connect_check": "--connect-check",
	"connect_timeout": "--timeout", "tls_timeout": "--timeout", "deep_timeout": "--timeout",
	"allow_plaintext_auth": "--allow-plaintext-auth", "haproxy_v2_command": "--haproxy-v2-command",
	"tcp_steps": "--send/--expect/--expect-regex",
}

// tcpStepFlag appends one tcp step per use, so --send and --expect keep
// the order they were given in across the three flags.
type tcpStepFlag struct {
	steps *[]map[string]any
	key   string
}

func (f tcpStepFlag) String() string { return "" }

func (f tcpStepFlag) Set(v string) error {
	step := map[string]any{f.key: v}
	if f.key == "send" && namesEnvVar.MatchString(v) {
		// The variable is how a password stays off the command line:
		// its value is a secret step's, <redacted> in the transcript and
		// only sent over TLS.
		step["secret"] = true
	}
	*f.steps = append(*f.steps, step)
	return nil
}

// namesEnvVar matches a ${NAME} the configuration expands (not its
// escape $${NAME}).
var namesEnvVar = regexp.MustCompile(`(^|[^$])\$\{[A-Za-z_]`)

// yamlDoc renders the flags as a configuration file, so that the target is
// defaulted and validated by exactly the code that checks serve's file.
func (f *probeFlags) yamlDoc() ([]byte, error) {
	t := map[string]any{}
	set := func(key string, v any, present bool) {
		if present {
			t[key] = v
		}
	}
	// Left-out flags stay out of the document so config says "is required".
	set("protocol", f.protocol, f.protocol != "")
	set("host", f.host, f.host != "")
	set("port", f.port, f.port != 0)
	set("tls", true, f.tls)
	set("tls_mode", f.tlsMode, f.tlsMode != "")
	set("tls_ca_file", f.tlsCAFile, f.tlsCAFile != "")
	set("tls_server_name", f.tlsServer, f.tlsServer != "")
	set("tls_cert_file", f.tlsCertFile, f.tlsCertFile != "")
	set("tls_key_file", f.tlsKey, f.tlsKey != "")
	set("tls_skip_verify", true, f.tlsSkipVerify)
	set("haproxy_v2", true, f.haproxyV2 || f.haproxyV2Command != "")
	set("haproxy_v2_command", f.haproxyV2Command, f.haproxyV2Command != "")
	set("deep_check", true, f.deep)
	set("test_username", f.username, f.username != "")
	set("test_password_file", f.passwordFile, f.passwordFile != "")
	set("auth_mechanism", f.mechanism, f.mechanism != "")
	set("request_uri", f.requestURI, f.requestURI != "")
	set("expected_text", f.expectedText, f.expectedText != "")
	set("helo_name", f.heloName, f.heloName != "")
	set("connect_check", f.connectCheck, f.connectCheck != "")
	set("tcp_steps", f.tcpSteps, len(f.tcpSteps) > 0)
	if f.expectedStatus != "" {
		var list []any
		for _, s := range strings.Split(f.expectedStatus, ",") {
			// A word that is not a number goes through as written, so
			// config reports it like any other bad value.
			if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
				list = append(list, n)
			} else {
				list = append(list, strings.TrimSpace(s))
			}
		}
		t["expected_status"] = list
	}
	set("allow_plaintext_auth", true, f.allowPlaintextAuth)
	if f.password != "" {
		pw := f.password
		if strings.Contains(pw, "$") {
			pw = passwordStandIn
		}
		t["test_password"] = pw
	}
	service := map[string]any{"targets": []any{t}}
	if f.timeout != "" {
		for _, k := range []string{"connect_timeout", "tls_timeout", "deep_timeout"} {
			service[k] = f.timeout
		}
		// One probe, no schedule: the longest interval keeps the config's
		// "timeouts fit the interval" rule from refusing a long --timeout.
		service["connect_interval"] = "24h"
	}
	doc := map[string]any{"auth": map[string]any{"services": map[string]any{
		"enabled":               []string{config.ServiceBackendHealthChecks},
		"backend_health_checks": service,
	}}}
	return yaml.Marshal(doc)
}

// probeTarget validates the flags through the configuration code. Errors
// are reworded to name flags rather than key paths of a file the user never
// wrote.
func (f *probeFlags) probeTarget() (*probe.Target, []string) {
	if f.password != "" && f.passwordFile != "" {
		return nil, []string{"--password and --password-file: give only one"}
	}
	if !f.deep && (f.username != "" || f.password != "" || f.passwordFile != "" || f.mechanism != "") {
		// The connect phase sends no credentials: a login that was never
		// tried must not read as a healthy one.
		return nil, []string{"--username, --password, --password-file and --auth-mechanism need --deep (without it no login is tried)"}
	}
	doc, err := f.yamlDoc()
	if err != nil {
		return nil, []string{err.Error()}
	}
	cfg, err := config.Parse(doc)
	if err != nil {
		var errs config.Errors
		if !errors.As(err, &errs) {
			return nil, []string{err.Error()}
		}
		out := make([]string, 0, len(errs))
		for _, e := range errs {
			out = append(out, flagError(e))
		}
		return nil, out
	}
	ct := &cfg.Auth.Services.BackendHealthChecks.Targets[0]
	if f.password != "" {
		ct.TestPassword = f.password
	}
	t, err := probe.NewTarget(ct)
	if err != nil {
		return nil, []string{err.Error()}
	}
	return t, nil
}

func flagError(e config.Error) string {
	key := e.Path
	for _, prefix := range []string{probeTargetPath + ".", probeServicePath + "."} {
		if rest, ok := strings.CutPrefix(key, prefix); ok {
			key = rest
			break
		}
	}
	if i := strings.IndexByte(key, '['); i > 0 {
		key = key[:i] // expected_status[1]: the flag's second entry
	}
	if fl, ok := flagForKey[key]; ok {
		msg := e.Msg
		// Config messages name sibling keys; name the flags instead. Only
		// snake_case keys: "protocol" or "tls" are also ordinary words.
		for k, other := range flagForKey {
			if strings.Contains(k, "_") {
				msg = replaceWord(msg, k, other)
			}
		}
		return fl + ": " + msg
	}
	return e.Error()
}

// replaceWord replaces whole-word occurrences of key (as in "needs
// test_password as well") with repl.
func replaceWord(s, key, repl string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, key)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(key)
		before := i == 0 || !isWordByte(s[i-1])
		after := end == len(s) || !isWordByte(s[end])
		b.WriteString(s[:i])
		if before && after {
			b.WriteString(repl)
		} else {
			b.WriteString(key)
		}
		s = s[end:]
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// runProbe checks one backend once with the daemon's probe code and prints
// every step, its duration and the server's lines (credentials redacted).
// Exit 0 healthy, 1 not, 2 bad flags.
func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("probe", stderr)
	var f probeFlags
	f.register(fs)
	if code, ok := parseCommand(fs, args, stdout); !ok {
		return code
	}
	if f.config != "" || f.target != "" || f.all {
		if msg := f.configModeProblem(fs); msg != "" {
			fmt.Fprintf(stderr, "backline probe: %s\n", msg)
			return exitUsage
		}
		return probeFromConfig(ctx, &f, stdout, stderr)
	}
	if f.timeout != "" {
		if _, err := config.ParseDuration(f.timeout); err != nil {
			fmt.Fprintf(stderr, "backline probe: --timeout: %v\n", err)
			return exitUsage
		}
	}
	t, problems := f.probeTarget()
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "backline probe: %s\n", p)
		}
		return exitUsage
	}
	// Mechanism mismatches are logged by the prober; show them on stderr.
	return printCheck(ctx, &probe.Prober{Logger: cliLogger(stderr)}, t, f.json, stdout)
}

// printCheck runs one check with its transcript and prints it; exit 0
// healthy, 1 not.
func printCheck(ctx context.Context, prober *probe.Prober, t *probe.Target, asJSON bool, stdout io.Writer) int {
	start := time.Now()
	res := prober.Check(ctx, t, phaseOf(t), probe.Options{Transcript: true})
	if res.Duration == 0 {
		res.Duration = time.Since(start)
	}
	agent := queryAgentReport(ctx, t)
	if asJSON {
		r := newProbeReport(t, res)
		r.Agent = agent
		writeJSONValue(stdout, r)
	} else {
		writeProbeText(stdout, t, res)
		writeAgentText(stdout, agent)
	}
	if !res.OK {
		return exitFail
	}
	return exitOK
}

// configModeProblem checks the flags of `probe --config`: exactly one of
// --target and --all, and none of the flags that describe a target (the
// file does).
func (f *probeFlags) configModeProblem(fs *flag.FlagSet) string {
	switch {
	case f.config == "":
		return "--target and --all need --config FILE"
	case f.target == "" && !f.all:
		return "--config needs --target NAME or --all"
	case f.target != "" && f.all:
		return "--target and --all: give only one"
	}
	var extra []string
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "config", "target", "all", "json":
		default:
			extra = append(extra, "--"+fl.Name)
		}
	})
	if len(extra) > 0 {
		return fmt.Sprintf("%s: the target comes from --config; these flags describe one on the command line", strings.Join(extra, ", "))
	}
	return ""
}
