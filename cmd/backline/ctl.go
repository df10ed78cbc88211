package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const ctlUsageLine = "Usage: backline ctl [flags] <command> [arguments] [flags]"

const ctlUsage = ctlUsageLine + `

Commands:
  list                      every backend, problems first
  show ID                   one backend
  drain ID                  no new logins or requests; running ones go on
  maint ID                  out of rotation; checks go on
  ready ID [--reset]        back into rotation (--reset: back to the configuration)
  weight ID N               weight 0..256 (0 = out of rotation)
  health ID up|down|auto    force the health state, or let the checks decide
  recheck ID                probe the backend now and print the result (exit 1 unless it passed)
  explain USER              dry run of the selection (--protocol, --client-ip, --service)
  affinity show USER        the user's stored backends (sticky policy; --protocol P: one protocol)
  affinity move USER ID     keep the user on backend ID (for auth.nginx.affinity_ttl)
  affinity flush USER       forget the user's stored backends (--protocol P: one protocol)
  reload                    reload the daemon's configuration file

The daemon is found from --api URL, else --config FILE (server.address and
server.api_auth), else http://127.0.0.1:9080. Exit 0 ok, 1 the API or the
daemon failed, 2 bad command line.

Flags:
`

// ctlOptions are the flags of `backline ctl`; they may stand before or
// after the command and its arguments.
type ctlOptions struct {
	api, configFile    string
	apiUser            string
	passwordFile       string
	tokenFile          string
	ttl                time.Duration
	why                string
	json               bool
	timeout            time.Duration
	reset              bool
	protocol, clientIP string
	service            string
	localPort          int
	set                map[string]bool // flags given on the command line
	positional         []string
	stdout, stderr     io.Writer
	commandName        string
}

func (o *ctlOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.api, "api", "", "base URL of the daemon, e.g. http://127.0.0.1:9080")
	fs.StringVar(&o.configFile, "config", "", "the daemon's configuration file (gives server.address and api_auth)")
	fs.StringVar(&o.apiUser, "api-user", "", "API user (default: server.api_auth.username of --config)")
	fs.StringVar(&o.passwordFile, "password-file", "", "file holding the API password (default: from --config)")
	fs.StringVar(&o.tokenFile, "token-file", "", "file holding an API bearer token")
	fs.DurationVar(&o.ttl, "for", 0, "how long a drain, maint, ready, weight or health change lasts (e.g. 30m)")
	fs.StringVar(&o.why, "why", "", "reason recorded with the change")
	fs.BoolVar(&o.json, "json", false, "print the API's JSON answer")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "time limit for the API request")
	fs.BoolVar(&o.reset, "reset", false, "ready: return the backend to its configured state")
	fs.StringVar(&o.protocol, "protocol", "imap", "explain: protocol of the login (imap, pop3, smtp, ...)")
	fs.StringVar(&o.clientIP, "client-ip", "", "explain: client IP address")
	fs.StringVar(&o.service, "service", "", "explain: nginx, header or json (default nginx)")
	fs.IntVar(&o.localPort, "local-port", 0, "explain: the port the client connected to")
}

// Flags every command takes; the others belong to some commands only, and
// giving one elsewhere is a usage error rather than silently ignored.
var ctlCommonFlags = map[string]bool{
	"api": true, "config": true, "api-user": true, "password-file": true,
	"token-file": true, "json": true, "timeout": true,
}

var ctlCommandFlags = map[string][]string{
	"list":     nil,
	"show":     nil,
	"drain":    {"for", "why"},
	"maint":    {"for", "why"},
	"ready":    {"for", "why", "reset"},
	"weight":   {"for", "why"},
	"health":   {"for", "why"},
	"recheck":  nil,
	"explain":  {"protocol", "client-ip", "service", "local-port"},
	"affinity": {"protocol"},
	"reload":   nil,
}

// parseCtlArgs lets flags and positional arguments mix, as in
// `ctl --config F drain mbox03 --for 30m`; "--" ends the flags.
func parseCtlArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func runCtl(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &ctlOptions{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), ctlUsage)
		fs.PrintDefaults()
	}
	if wantsHelp(args) {
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	}
	positional, err := parseCtlArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	o.positional = positional
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if len(positional) == 0 {
		fs.Usage()
		return exitUsage
	}
	o.commandName = positional[0]
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "backline ctl: %v\n", err)
		return exitUsage
	}
	c, err := newCtlClient(o)
	if err != nil {
		if !errors.Is(err, errCtlReported) {
			fmt.Fprintf(stderr, "backline ctl: %v\n", err)
		}
		if errors.As(err, new(ctlUsageError)) {
			return exitUsage
		}
		return exitFail
	}
	return c.run(ctx, o)
}

// ctlUsageError marks a problem with the command line (exit 2).
type ctlUsageError struct{ msg string }

func (e ctlUsageError) Error() string { return e.msg }

func ctlUsagef(format string, a ...any) error { return ctlUsageError{fmt.Sprintf(format, a...)} }

// validate checks the command, its arguments and which flags it got, all
// before anything is sent.
func (o *ctlOptions) validate() error {
	allowed, known := ctlCommandFlags[o.commandName]
	if !known {
		return ctlUsagef("unknown command %q (want list, show, drain, maint, ready, weight, health, recheck, explain, affinity or reload)", o.commandName)
	}
	for _, name := range slices.Sorted(maps.Keys(o.set)) {
		if !ctlCommonFlags[name] && !slices.Contains(allowed, name) {
			return ctlUsagef("%s: flag --%s does not apply to this command", o.commandName, name)
		}
	}
	if o.set["timeout"] && o.timeout <= 0 {
		return ctlUsagef("--timeout must be positive, got %s", o.timeout)
	}
	args := o.positional[1:]
	switch o.commandName {
	case "list", "reload":
		return ctlWantArgs(o.commandName, args, 0, "")
	case "show", "drain", "maint", "ready", "recheck":
		if err := ctlWantArgs(o.commandName, args, 1, "ID"); err != nil {
			return err
		}
	case "weight":
		if err := ctlWantArgs(o.commandName, args, 2, "ID N"); err != nil {
			return err
		}
		if _, err := ctlParseWeight(args[1]); err != nil {
			return err
		}
	case "health":
		if err := ctlWantArgs(o.commandName, args, 2, "ID up|down|auto"); err != nil {
			return err
		}
		if !slices.Contains([]string{"up", "down", "auto"}, args[1]) {
			return ctlUsagef("health: want up, down or auto, got %q", args[1])
		}
	case "explain":
		return o.validateExplain(args)
	case "affinity":
		return o.validateAffinity(args)
	}
	if args[0] == "" {
		return ctlUsagef("%s: empty backend ID", o.commandName)
	}
	return o.validateChange()
}

func (o *ctlOptions) validateChange() error {
	if o.set["for"] && o.ttl <= 0 {
		return ctlUsagef("--for must be a positive duration such as 30m, got %s", o.ttl)
	}
	if o.reset && (o.set["for"] || o.set["why"]) {
		return ctlUsagef("ready --reset returns to the configuration; --for and --why do not apply")
	}
	// The API refuses these too; saying so here spares a round trip and
	// names the flag.
	if len(o.why) > 256 {
		return ctlUsagef("--why is longer than 256 bytes")
	}
	if !utf8.ValidString(o.why) || strings.ContainsFunc(o.why, ctlIsControl) {
		return ctlUsagef("--why must be printable UTF-8 text without control characters")
	}
	return nil
}

func (o *ctlOptions) validateExplain(args []string) error {
	if err := ctlWantArgs("explain", args, 1, "USER"); err != nil {
		return err
	}
	if args[0] == "" {
		return ctlUsagef("explain: empty user name")
	}
	if o.clientIP != "" {
		if _, err := netip.ParseAddr(o.clientIP); err != nil {
			return ctlUsagef("--client-ip: not an IP address: %q", o.clientIP)
		}
	}
	if o.service != "" && !slices.Contains([]string{"nginx", "header", "json"}, o.service) {
		return ctlUsagef("--service: want nginx, header or json, got %q", o.service)
	}
	if o.set["local-port"] && (o.localPort < 1 || o.localPort > 65535) {
		return ctlUsagef("--local-port must be 1..65535, got %d", o.localPort)
	}
	return nil
}

func ctlWantArgs(cmd string, args []string, n int, names string) error {
	switch {
	case len(args) < n:
		return ctlUsagef("%s: missing %s (usage: backline ctl %s %s)", cmd, names, cmd, names)
	case len(args) > n:
		return ctlUsagef("%s: unexpected argument %q", cmd, args[n])
	}
	return nil
}

func ctlParseWeight(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 256 {
		return 0, ctlUsagef("weight: want a whole number 0..256, got %q", s)
	}
	return n, nil
}

func ctlIsControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
