package main

import (
	"flag"
	"os/exec"
	"strings"
	"testing"
)

// Every command answers --help, -h and "help CMD" on stdout with exit 0 and
// a first line "Usage: backline CMD"; nothing goes to stderr.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, d := range commandDocs {
		args := strings.Fields(d.name)
		for _, variant := range [][]string{
			append(append([]string{}, args...), "--help"),
			append(append([]string{}, args...), "-h"),
			append([]string{"help"}, args...),
		} {
			code, stdout, stderr := backline(t, variant...)
			first, _, _ := strings.Cut(stdout, "\n")
			if code != exitOK || stderr != "" || !strings.HasPrefix(first, "Usage: backline "+d.name) {
				t.Errorf("backline %q: exit %d, first line %q, stderr %q", variant, code, first, stderr)
			}
			if d.define == nil {
				continue
			}
			fs := flag.NewFlagSet(d.name, flag.ContinueOnError)
			d.define(fs)
			fs.VisitAll(func(f *flag.Flag) {
				if !strings.Contains(stdout, "-"+f.Name) {
					t.Errorf("backline %q: help lacks -%s", variant, f.Name)
				}
			})
		}
	}
}

// A bad flag is still a usage error on stderr (exit 2), with the usage.
func TestBadFlagShowsUsageOnStderr(t *testing.T) {
	for _, name := range []string{"serve", "check", "probe", "demo"} {
		code, stdout, stderr := backline(t, name, "--no-such-flag")
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, "Usage: backline "+name) {
			t.Errorf("%s --no-such-flag: exit %d stdout %q stderr %q", name, code, stdout, stderr)
		}
	}
	code, _, stderr := backline(t, "lua", "test")
	if code != exitUsage || !strings.Contains(stderr, "--script FILE is required") {
		t.Errorf("lua test without --script: exit %d %q", code, stderr)
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, stdout, stderr := backline(t, "completion", shell)
		if code != exitOK || stderr != "" {
			t.Fatalf("completion %s: exit %d %q", shell, code, stderr)
		}
		for _, want := range []string{"serve", "probe", "ctl", "drain", "config", "haproxy-v2"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("completion %s lacks %q", shell, want)
			}
		}
		if shell == "bash" {
			if _, err := exec.LookPath("bash"); err == nil {
				cmd := exec.Command("bash", "-n")
				cmd.Stdin = strings.NewReader(stdout)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("bash -n: %v %s", err, out)
				}
			}
		}
	}
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		if code, _, _ := backline(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestManPageListsEveryFlag(t *testing.T) {
	code, page, _ := backline(t, "man")
	if code != exitOK || !strings.HasPrefix(page, ".TH BACKLINE 1") {
		t.Fatalf("man: exit %d %.60q", code, page)
	}
	for _, d := range commandDocs {
		if !strings.Contains(page, "backline "+roff(d.name)) {
			t.Errorf("man page lacks %s", d.name)
		}
		if d.define == nil {
			continue
		}
		fs := flag.NewFlagSet(d.name, flag.ContinueOnError)
		d.define(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(page, `\-\-`+roff(f.Name)) {
				t.Errorf("man page lacks --%s of %s", f.Name, d.name)
			}
		})
	}
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, ".") && !strings.HasPrefix(line, ".TH") && !strings.HasPrefix(line, ".SH") &&
			!strings.HasPrefix(line, ".SS") && !strings.HasPrefix(line, ".TP") && !strings.HasPrefix(line, ".PP") &&
			!strings.HasPrefix(line, ".br") && !strings.HasPrefix(line, ".B ") && !strings.HasPrefix(line, ".I ") {
			t.Errorf("man page line starts an unknown request: %q", line)
		}
	}
}
