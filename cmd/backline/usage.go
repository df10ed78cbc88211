package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/backline/backline/internal/config"
)

// commandDoc describes one subcommand for its help, the shell completions
// and the man page, which are all generated from this table and the
// commands' own flag definitions, so they cannot drift apart.
type commandDoc struct {
	name     string // as typed: "serve", "lua test"
	synopsis string // after the name: "--config FILE"
	summary  string // one line, for the command list
	about    string // the help text between the usage line and the flags
	// define registers the command's flags (the same function the
	// command runs with); nil: no flags.
	define func(fs *flag.FlagSet)
	// words are fixed arguments the completion offers (ctl's commands).
	words []string
}

var commandDocs = []commandDoc{
	{name: "serve", synopsis: "--config FILE", summary: "run the daemon",
		about:  "Runs the health checks, the auth endpoints, the gateway and the API of FILE until SIGINT or SIGTERM.\nSIGHUP reloads FILE; SIGUSR1 reopens its log files.",
		define: func(fs *flag.FlagSet) { new(serveOptions).register(fs) }},
	{name: "check", synopsis: "--config FILE", summary: "validate a configuration file",
		about:  "Loads FILE as serve would, reads the files it names, compiles its scripts and builds its gateway\n(templates, oauth2 and beta_token_request included) without listening, connecting or fetching tokens.\nExit 0 with a summary and warnings on stdout, 1 with every error (key path and line) on stderr.",
		define: func(fs *flag.FlagSet) { new(checkOptions).register(fs) }},
	{name: "migrate nauthilus", synopsis: "[--output F] FILE", summary: "convert a Nauthilus configuration file",
		about: "Converts a Nauthilus 1.x or 3.x file: health-check targets, Redis, Lua filters, the listener and API\n" +
			"credentials. The backline file goes to standard output (or --output); standard error lists, one line\n" +
			"per Nauthilus key with its line, what has no equivalent (dropped) and what changed meaning.\n" +
			"FILE - reads standard input. Exit 0 when converted, 1 when FILE is not readable YAML, 2 on a bad command line.",
		define: func(fs *flag.FlagSet) { new(migrateOptions).register(fs) },
		words:  []string{"nauthilus"}},
	{name: "probe", synopsis: "--protocol P --host H --port N [flags]", summary: "check one backend once, with the daemon's code",
		about:  "Prints every step of the check, its duration and the server's lines (credentials redacted).\nExit 0 healthy, 1 not, 2 bad flags.",
		define: func(fs *flag.FlagSet) { new(probeFlags).register(fs) }},
	{name: "lua test", synopsis: "--script FILE [flags]", summary: "run a filter script offline",
		about:  "Runs one filter script on one request against a made-up backend list, without a daemon.\nExit 0 when the script ran (whatever it decided), 1 when it failed, 2 on a bad command line.",
		define: func(fs *flag.FlagSet) { new(luaTestOptions).register(fs) }},
	{name: "demo", synopsis: "[--address A] [--print-config [--dir D]]", summary: "run on an embedded default with fake backends",
		about:  "Starts fake IMAP, POP3, SMTP and HTTP backends on loopback and the daemon on a configuration made for them.",
		define: func(fs *flag.FlagSet) { new(demoOptions).register(fs) }},
	{name: "ctl", synopsis: "[flags] <command> [arguments]", summary: "control a running daemon: list, drain, ready, explain, reload...",
		about:  strings.TrimSuffix(strings.TrimPrefix(ctlUsage, ctlUsageLine+"\n\n"), "\nFlags:\n"),
		define: func(fs *flag.FlagSet) { new(ctlOptions).register(fs) },
		words:  []string{"list", "show", "drain", "maint", "ready", "weight", "health", "recheck", "explain", "affinity", "reload"}},
	{name: "completion", synopsis: "bash|zsh|fish", summary: "print a shell completion script",
		about: "Prints the completion script for the shell. For bash: source <(backline completion bash)",
		words: []string{"bash", "zsh", "fish"}},
	{name: "version", summary: "print the version"},
}

func docFor(name string) commandDoc {
	for _, d := range commandDocs {
		if d.name == name {
			return d
		}
	}
	panic("backline: no commandDoc for " + name)
}

// usageText is the main usage, listing every command.
func usageText() string {
	var b strings.Builder
	b.WriteString("Usage: backline <command> [flags]\n\nCommands:\n")
	for _, d := range commandDocs {
		left := d.name
		if d.synopsis != "" && len(d.name)+len(d.synopsis) < 26 {
			left += " " + d.synopsis
		}
		fmt.Fprintf(&b, "  %-28s%s\n", left, d.summary)
	}
	b.WriteString("\nRun \"backline <command> --help\" for the flags of a command.\n")
	return b.String()
}

// newCommandFlags makes the flag set of a subcommand: errors go to stderr,
// and its usage reads "Usage: backline NAME SYNOPSIS", the command's text,
// then the flags.
func newCommandFlags(name string, stderr io.Writer) *flag.FlagSet {
	d := docFor(name)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { writeCommandHelp(fs.Output(), d, fs) }
	return fs
}

func writeCommandHelp(w io.Writer, d commandDoc, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: backline %s %s\n\n", d.name, d.synopsis)
	if d.about != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimRight(d.about, "\n"))
	}
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "Flags:")
		fs.PrintDefaults()
	}
}

// wantsHelp reports whether args ask for help (-h, -help, --help before
// any "--"): help is an answer, so it goes to stdout with exit 0.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// parseCommand parses a subcommand's flags; ok is false when the caller
// should exit with code: 0 after help (on stdout), 2 for a bad flag or a
// stray argument (on stderr).
func parseCommand(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, ok bool) {
	if wantsHelp(args) {
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK, false
	}
	return parseFlags(fs, args)
}

// Each command's flags, defined once for the run, the help, the man page
// and the completions.

type serveOptions struct{ config string }

func (o *serveOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.config, "config", "", "configuration file (required)")
}

type checkOptions struct {
	config    string
	noSecrets bool
}

func (o *checkOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.config, "config", "", "configuration file to validate (required)")
	fs.BoolVar(&o.noSecrets, "no-secrets", false, "check away from production: unset ${VAR}s and ${env.NAME}s and missing secret, CA and passwd files are warnings")
}

type demoOptions struct {
	address, dir string
	printConfig  bool
}

type luaTestOptions struct {
	script, request, backends, packagePath, redis string
	redisPrefix                                   string
	inits                                         []string
	timeout                                       time.Duration
	live, expose                                  bool
}

func (o *luaTestOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.script, "script", "", "filter script to run (required)")
	fs.StringVar(&o.request, "request", "", "JSON file with the request fields (username, client_ip, ...)")
	fs.StringVar(&o.backends, "backends", "", "JSON array of backends {name, protocol, host, port, healthy, ...}")
	fs.StringVar(&o.packagePath, "package-path", "", "the Lua package.path (replaces the default)")
	fs.Func("init", "init script to run first, as serve runs lua.config.init_script_paths (repeatable)", func(path string) error {
		o.inits = append(o.inits, path)
		return nil
	})
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "script timeout")
	fs.BoolVar(&o.live, "live-checks", false, "let check_backend_connection really connect")
	fs.BoolVar(&o.expose, "expose-test-credentials", false, "show test_password to the script")
	fs.StringVar(&o.redis, "redis", "", "host:port of a Redis for nauthilus_redis's \"default\" (standalone, no password)")
	fs.StringVar(&o.redisPrefix, "redis-prefix", config.DefaultRedisPrefix, "request.redis_prefix with --redis (lua.config.redis_prefix, else storage.redis.prefix)")
}
