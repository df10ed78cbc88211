package config

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// billionLaughs is the classic exponential alias bomb: nine levels of nine
// aliases each expand to 9^9 (387 million) strings from a few hundred bytes.
const billionLaughs = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

// longValueBomb repeats a 100 KiB value 60 times: 6 MiB of service names,
// each quoted in an "unknown service" error, from a 100 KiB file.
var longValueBomb = "x: &a \"" + strings.Repeat("x", 100<<10) + "\"\nauth:\n  services:\n    enabled: [" +
	strings.TrimSuffix(strings.Repeat("*a,", 60), ",") + "]\n"

var hasLine = regexp.MustCompile(`\(line [1-9][0-9]*\): |^line [1-9][0-9]*: `)

// parseWithin parses yml in a goroutine and fails the test when it takes
// longer than limit: the bombs used to run until the process ran out of
// memory, so a hang must not take the test binary down with it.
func parseWithin(t *testing.T, yml string, limit time.Duration) []string {
	t.Helper()
	done := make(chan []string, 1)
	go func() {
		if _, err := Parse([]byte(yml)); err != nil {
			done <- strings.Split(err.Error(), "\n")
			return
		}
		done <- nil
	}()
	select {
	case got := <-done:
		return got
	case <-time.After(limit):
		t.Fatalf("Parse did not return within %s", limit)
		return nil
	}
}

func TestAliasBombs(t *testing.T) {
	deepChain := "a0: &a0 [x]\n"
	for i := 1; i <= 70; i++ {
		deepChain += fmt.Sprintf("a%d: &a%d [*a%d]\n", i, i, i-1)
	}
	tests := []struct {
		name, yml, want string
	}{
		{"recursive alias", "a: &a [*a]\n", "a[0] (line 1): alias *a refers to a node that contains it (a recursive alias)"},
		{"recursive mapping alias", "x:\n  a: &a\n    b: *a\n", "x.a.b (line 3): alias *a refers to a node that contains it (a recursive alias)"},
		{"billion laughs", billionLaughs, "f[1] (line 6): the document expands to more than 100000 nodes through aliases (*e); a configuration never needs that many"},
		{"long value repeated by aliases", longValueBomb,
			"auth.services.enabled[40] (line 4): the document expands to more than 4 MiB of text (through aliases); a configuration never needs that much"},
		{"deep alias chain", deepChain, "a63[0] (line 64): nesting is deeper than 64 levels (counting what aliases expand to)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseWithin(t, tt.yml, 10*time.Second)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("errors\n want: %s\n got:\n  %s", tt.want, strings.Join(got, "\n  "))
			}
		})
	}
}

func TestAliasesWithinLimitsStillWork(t *testing.T) {
	// Anchors and aliases are a legitimate way to share settings.
	c := mustParse(t, withTargets(`- &imap {name: one, protocol: imap, host: 127.0.0.1, port: 993, tls: true}
- {name: two, protocol: imap, host: 127.0.0.2, port: 993, tls: true}
`))
	if n := len(c.Auth.Services.BackendHealthChecks.Targets); n != 2 {
		t.Fatalf("%d targets, want 2", n)
	}
	c = mustParse(t, `definitions:
  backends:
    a: &be {origin: "http://127.0.0.1:1"}
    b: *be
`)
	if len(c.Definitions.Backends) != 2 {
		t.Fatalf("backends = %v", c.Definitions.SortedLabels())
	}
}

func TestYAMLSyntaxErrorsHaveLines(t *testing.T) {
	deepFlow := "a: " + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "\n"
	deepBlock := "a:\n" + strings.Repeat("- ", 70) + "x\n"
	tests := []struct {
		name, yml, want string
	}{
		{"unknown anchor", "server:\n  address: 127.0.0.1:9080\n  log_level: *lvl\n", "(yaml syntax) (line 3): unknown anchor 'lvl' referenced"},
		{"unknown anchor on line 1", "a: *nope\n", "(yaml syntax) (line 1): unknown anchor 'nope' referenced"},
		{"anchor used before it is defined", "a: *x\nb: &x 1\n", "(yaml syntax) (line 1): unknown anchor 'x' referenced"},
		{"unknown anchor after CR line breaks", "a: 1\rb: 2\r\nc: *x\n", "(yaml syntax) (line 3): unknown anchor 'x' referenced"},
		{"NUL after CR line breaks", "a: 1\rb: 2\r\nc: \x00\n", "(yaml syntax) (line 3): control character U+0000 at column 4 is not allowed in YAML (write it as an escape inside double quotes)"},
		{"NUL byte", "server:\n  log_level: in\x00fo\n", "(yaml syntax) (line 2): control character U+0000 at column 16 is not allowed in YAML (write it as an escape inside double quotes)"},
		{"escape character", "server:\n\n  address: \x1b[31m\n", "(yaml syntax) (line 3): control character U+001B at column 12 is not allowed in YAML (write it as an escape inside double quotes)"},
		{"invalid UTF-8", "a: b\nc: \xff\n", "(yaml syntax) (line 2): invalid UTF-8 at column 4"},
		{"flow depth beyond the parser's limit", deepFlow, "(yaml syntax) (line 1): exceeded max depth of 10000"},
		{"block nesting too deep", deepBlock, "a" + strings.Repeat("[0]", 64) + " (line 2): nesting is deeper than 64 levels (counting what aliases expand to)"},
		{"syntax error at the end of the file", "a: [\n", "(yaml syntax) (line 2): did not find expected node content"},
		{"stray bracket on line 1", "a: [[[]]]]\n", "(yaml syntax) (line 1): did not find expected key"},
		{"stray bracket on line 4", "a: 1\nb: 2\nc: 3\n]\n", "(yaml syntax) (line 4): did not find expected key"},
		{"mapping after a list", "- a\n- b\nc: d\n", "(yaml syntax) (line 3): did not find expected '-' indicator"},
		{"unclosed flow list", "a: 1\nb: 2\nc: [1\n", "(yaml syntax) (line 3): did not find expected ',' or ']'"},
		{"scanner error on line 1", "a: b: c\n", "(yaml syntax) (line 1): mapping values are not allowed in this context"},
		{"scanner error on line 4", "a: 1\nb: 2\nc: 3\nd: e: f\n", "(yaml syntax) (line 4): mapping values are not allowed in this context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseWithin(t, tt.yml, 10*time.Second)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("errors\n want: %s\n got:\n  %s", tt.want, strings.Join(got, "\n  "))
			}
			for _, g := range got {
				if !hasLine.MatchString(g) {
					t.Errorf("error without a line number: %s", g)
				}
			}
		})
	}
}

// TestManyErrorsStayCheap: a file with thousands of broken entries used to
// take seconds (every validation error was compared with every decoding
// error) and listed every one of them.
func TestManyErrorsStayCheap(t *testing.T) {
	yml := withTargets(strings.Repeat("- {protocol: x, bogus: 1}\n", 3000))
	got := parseWithin(t, yml, 20*time.Second)
	if len(got) != MaxReportedErrors+1 {
		t.Fatalf("%d errors, want %d and a summary", len(got), MaxReportedErrors)
	}
	if want := "(file): 14899 more errors not shown; fix the ones above first"; got[len(got)-1] != want {
		t.Errorf("last error %q, want %q", got[len(got)-1], want)
	}
}
