package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/backline/backline/internal/demo"
	"github.com/backline/backline/internal/server"
)

// runDemo starts the fake backends of package demo and runs the daemon on
// the configuration it generated, exactly as serve would run a file.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("demo", stderr)
	var o demoOptions
	o.register(fs)
	if code, ok := parseCommand(fs, args, stdout); !ok {
		return code
	}
	addressSet := false
	fs.Visit(func(f *flag.Flag) { addressSet = addressSet || f.Name == "address" })
	if o.printConfig {
		return printDemoConfig(o, stdout, stderr)
	}
	// Listening first makes --address 127.0.0.1:0 work: the configuration
	// gets the real port.
	ln, err := net.Listen("tcp", o.address)
	if err != nil && !addressSet && errors.Is(err, syscall.EADDRINUSE) {
		// The default port is taken (another demo, a daemon): a demo on
		// another port beats an error on a first try.
		fmt.Fprintf(stderr, "backline demo: %s is in use; serving on a free port instead (choose one with --address)\n", o.address)
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		fmt.Fprintf(stderr, "backline demo: --address: %v\n", err)
		return exitFail
	}
	env, err := demo.Start(ln.Addr().String())
	if err != nil {
		ln.Close()
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	defer env.Close()
	logger, err := newLogger(stderr, env.Config.Server.LogLevel, env.Config.Server.LogFormat)
	if err != nil {
		ln.Close()
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	defer routeStdLog(logger)()
	err = runDaemonWith(ctx, daemonOptions{cfg: env.Config, logger: logger, ln: ln,
		mounts: []server.Mount{demo.Control{Env: env}},
		listening: func(addr string) {
			printDemoIntro(stdout, addr, env)
		}})
	if err != nil {
		logger.Error("demo stopped with an error", "error", err)
		return exitFail
	}
	return exitOK
}

// printDemoConfig writes the demo's configuration and the files it names
// (CA, test password, users, filter) into --dir, and prints it: `backline
// check --config DIR/backline.yml` accepts it after the demo is gone. The
// fakes' ports are the ones they had while it ran.
func printDemoConfig(o demoOptions, stdout, stderr io.Writer) int {
	address := o.address
	if _, port, err := net.SplitHostPort(address); err == nil && port == "0" {
		address = demo.DefaultAddress // a file needs a real port
	}
	env, err := demo.StartIn(address, o.dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	env.Close()
	path := filepath.Join(env.Dir, "backline.yml")
	if err := os.WriteFile(path, []byte(env.YAML), 0o600); err != nil {
		fmt.Fprintf(stderr, "backline demo: %v\n", err)
		return exitFail
	}
	fmt.Fprint(stdout, env.YAML)
	fmt.Fprintf(stderr, "backline demo: wrote %s and the files it names; try: backline check --config %s\n", path, path)
	return exitOK
}

func printDemoIntro(w io.Writer, addr string, env *demo.Env) {
	backends := env.Backends
	base := "http://" + addr
	fmt.Fprintf(w, `backline demo: probing %d fake backends on 127.0.0.1 every 2s (Ctrl-C to stop)

  status page      %[2]s/
  break / repair   %[2]s/demo
  JSON status      %[2]s/api/v1/backends
  one backend      %[2]s/api/v1/backends?name=demo-imaps
  metrics          %[2]s/metrics
  liveness         %[2]s/healthz

fake backends (test user %[3]s / %[4]s):
`, len(backends), base, demo.DemoUser, demo.DemoPassword)
	for _, b := range backends {
		fmt.Fprintf(w, "  %-16s %-22s %s\n", b.Name, b.Address, b.Description)
	}
	fmt.Fprintf(w, "\nask the auth endpoints which backend a login gets (users demo / demo-password, alice / alice-password):\n")
	for _, ex := range demoAuthExamples(base) {
		fmt.Fprintf(w, "  # %s\n  %s\n", ex.what, ex.curl())
	}
	for _, b := range backends {
		if b.Name == "demo-imaps" {
			fmt.Fprintf(w, "\none check by hand, with every line of the conversation:\n"+
				"  backline probe --protocol imap --host 127.0.0.1 --port %d --tls --tls-ca-file %s --deep --username %s --password-file %s\n",
				b.Port, env.CAFile, demo.DemoUser, env.PasswordFile)
		}
	}
}

// authExample is one request the demo's intro shows as a curl command; the
// demo test sends the same requests.
type authExample struct {
	what, method, url string
	headers           map[string]string
	body              string
}

func demoAuthExamples(base string) []authExample {
	return []authExample{
		{what: "nginx mail proxy (auth_http): Auth-Status OK, Auth-Server and Auth-Port of the chosen backend",
			method: "GET", url: base + "/api/v1/auth/nginx",
			headers: map[string]string{"Auth-Method": "plain", "Auth-User": "demo", "Auth-Pass": "demo-password",
				"Auth-Protocol": "imap", "Auth-Login-Attempt": "1", "Client-IP": "192.0.2.10"}},
		{what: "header endpoint (Dovecot Lua passdb, scripts): 200 and the backend in headers",
			method: "GET", url: base + "/api/v1/auth/header",
			headers: map[string]string{"Auth-User": "alice", "Auth-Pass": "alice-password", "Auth-Protocol": "pop3",
				"Client-IP": "192.0.2.11"}},
		{what: "JSON endpoint: the same as a JSON answer",
			method: "POST", url: base + "/api/v1/auth/json",
			headers: map[string]string{"Content-Type": "application/json"},
			body:    `{"username":"alice","password":"alice-password","protocol":"imap","client_ip":"192.0.2.12"}`},
	}
}

// curl renders the example as a command to paste into a shell.
func (ex authExample) curl() string {
	parts := []string{"curl -sS -D -"}
	if ex.method != "GET" {
		parts = append(parts, "-X "+ex.method)
	}
	keys := make([]string, 0, len(ex.headers))
	for k := range ex.headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, "-H '"+k+": "+ex.headers[k]+"'")
	}
	if ex.body != "" {
		parts = append(parts, "--data '"+ex.body+"'")
	}
	return strings.Join(append(parts, ex.url), " ")
}

func (o *demoOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.address, "address", demo.DefaultAddress, "where to serve the status page and API (default port busy: a free one is taken)")
	fs.BoolVar(&o.printConfig, "print-config", false, "write the generated configuration and its files to --dir, print it and exit")
	fs.StringVar(&o.dir, "dir", "backline-demo", "with --print-config: the directory for the configuration and its files")
}
