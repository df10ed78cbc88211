package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// runMan prints backline(1) in roff, made from commandDocs and the
// commands' flag definitions (scripts/package installs it).
func runMan(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "Usage: backline man")
		return exitUsage
	}
	fmt.Fprint(stdout, manPage())
	return exitOK
}

func manPage() string {
	var b strings.Builder
	b.WriteString(".TH BACKLINE 1 \"\" \"backline " + roff(versionString()) + "\" \"User Commands\"\n")
	b.WriteString(".SH NAME\nbackline \\- health checks, backend selection and an HTTP gateway for mail and API platforms\n")
	b.WriteString(".SH SYNOPSIS\n.B backline\n.I command\n[flags]\n")
	b.WriteString(".SH DESCRIPTION\nbackline decides which backend gets a connection: it checks backends (TCP, PROXY v2, TLS, IMAP, POP3, SMTP, LMTP, ManageSieve, HTTP logins), answers nginx auth_http and Dovecot Lua passdb requests with a healthy backend chosen by Nauthilus-compatible Lua filters, and proxies HTTP with Couper-style backend blocks.\n")
	b.WriteString(".SH COMMANDS\n")
	for _, d := range commandDocs {
		fmt.Fprintf(&b, ".SS \"backline %s %s\"\n%s\n", roff(d.name), roff(d.synopsis), roff(d.summary)+".")
		if d.about != "" {
			fmt.Fprintf(&b, ".PP\n%s\n", roffBlock(d.about))
		}
		if d.define == nil {
			continue
		}
		fs := flag.NewFlagSet(d.name, flag.ContinueOnError)
		d.define(fs)
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			arg := ""
			if name != "" {
				arg = " \\fI" + roff(name) + "\\fR"
			}
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				def = " (default " + roff(f.DefValue) + ")"
			}
			fmt.Fprintf(&b, ".TP\n\\fB\\-\\-%s\\fR%s\n%s%s\n", roff(f.Name), arg, roff(usage), def)
		})
	}
	b.WriteString(".SH SIGNALS\nSIGHUP reloads the configuration of \\fBserve\\fR; SIGUSR1 reopens its log files (server.log_file, gateway.access_log_file); SIGINT and SIGTERM stop it.\n")
	b.WriteString(".SH FILES\n.TP\n/etc/backline/backline.yml\nthe configuration of the packaged service\n")
	b.WriteString(".SH EXIT STATUS\n0 success, 1 failure (invalid configuration, unhealthy backend, runtime error), 2 bad command line.\n")
	return b.String()
}

// roff escapes text for a roff line: backslashes, and a leading dot or
// quote that would start a request.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffBlock is roff for text of several lines, kept as lines (.br).
func roffBlock(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			lines[i] = ".PP"
			continue
		}
		lines[i] = roff(l) + "\n.br"
	}
	return strings.Join(lines, "\n")
}
