package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/backline/backline/internal/demo"
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
	address, showConfig := &o.address, &o.printConfig
	// Listening first makes --address 127.0.0.1:0 work: the configuration
	// gets the real port.
	ln, err := net.Listen("tcp", *address)
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
	if *showConfig {
		ln.Close()
		fmt.Fprint(stdout, env.YAML)
		return exitOK
	}
	logger, err := newLogger(stderr, env.Config.Server.LogLevel, env.Config.Server.LogFormat)
	if err != nil {
		ln.Close()
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	err = runDaemon(ctx, env.Config, logger, ln, func(addr string) {
		printDemoIntro(stdout, addr, env)
	})
	if err != nil {
		logger.Error("demo stopped with an error", "error", err)
		return exitFail
	}
	return exitOK
}

func printDemoIntro(w io.Writer, addr string, env *demo.Env) {
	backends := env.Backends
	base := "http://" + addr
	fmt.Fprintf(w, `backline demo: probing %d fake backends on 127.0.0.1 every 2s (Ctrl-C to stop)

  status page      %[2]s/
  JSON status      %[2]s/api/v1/backends
  one backend      %[2]s/api/v1/backends?name=demo-imaps
  metrics          %[2]s/metrics
  liveness         %[2]s/healthz
  nginx auth_http  %[2]s/api/v1/auth/nginx (users demo / demo-password, alice / alice-password)

fake backends (test user %[3]s / %[4]s):
`, len(backends), base, demo.DemoUser, demo.DemoPassword)
	for _, b := range backends {
		fmt.Fprintf(w, "  %-16s %-22s %s\n", b.Name, b.Address, b.Description)
	}
	for _, b := range backends {
		if b.Name == "demo-imaps" {
			fmt.Fprintf(w, "\none check by hand, with every line of the conversation:\n"+
				"  backline probe --protocol imap --host 127.0.0.1 --port %d --tls --tls-ca-file %s --deep --username %s --password-file %s\n",
				b.Port, env.CAFile, demo.DemoUser, env.PasswordFile)
		}
	}
}

func (o *demoOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.address, "address", demo.DefaultAddress, "where to serve the status page and API")
	fs.BoolVar(&o.printConfig, "print-config", false, "print the generated configuration and exit")
}
