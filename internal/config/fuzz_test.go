package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Bounds of FuzzLoad: inputs up to maxFuzzInput bytes must parse within
// maxFuzzTime and allocate at most maxFuzzAlloc. Both are generous: a
// 64 KiB file takes milliseconds and a few MiB; an alias bomb took minutes
// and all memory.
const (
	maxFuzzInput = 64 << 10
	maxFuzzTime  = 5 * time.Second
	maxFuzzAlloc = 256 << 20
)

// FuzzLoad runs the loader (Parse, what Load does with a file's content) on
// arbitrary documents: it must never panic, return a config or an Errors of
// located problems (never both, never neither), and stay within the bounds
// above.
func FuzzLoad(f *testing.F) {
	if example, err := os.ReadFile(filepath.Join("..", "..", "backline.example.yml")); err == nil {
		f.Add(example)
	}
	for _, seed := range []string{
		"",
		"a: &a [*a]\n",
		billionLaughs,
		"x: &x {y: *x}\n",
		"a: *missing\n",
		"server:\n  log_level: \"in\\0fo\"\n",
		"a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
		withTargets("- {protocol: imap, host: 127.0.0.1, port: 993, tls: true, name: \"a\\x00\"}\n"),
		withGlobals("connect_interval: 1ns\nconnect_timeout: 1m\n"),
		"gateway:\n  address: 127.0.0.1:1\n  endpoints:\n    - path: /x\n      proxy: {url: \"http://127.0.0.1:1\"}\n    - path: /x\n      proxy: {url: \"http://127.0.0.1:1\"}\n",
		"definitions:\n  backends:\n    a: &b {origin: \"http://127.0.0.1:1\", beta_health: {interval: 1ns}}\n    c: *b\n",
		"---\na: 1\n---\nb: 2\n",
		"storage:\n  redis:\n    primary: {address: 127.0.0.1:6379}\n    circuit_breaker: {enabled: false, consecutive_failures: 9223372036854775807, open_time: -1ns, max_open_time: 1e300}\n",
		"definitions:\n  backends:\n    a:\n      origins: [&o \"http://127.0.0.1:1\", {origin: *o, weight: -1}, [x], ~]\n      load_balancing: weighted\n      beta_health: {}\n      passive_health: {max_ejection_percent: 101, consecutive_5xx: 0}\n",
		"definitions:\n  backends:\n    a:\n      origin: http://127.0.0.1:1\n      oauth2: &o {grant_type: client_credentials, token_endpoint: \"http://127.0.0.1:1/t\", client_id: i, client_secret: s, backend: {origin: \"http://127.0.0.1:1\", oauth2: *o}}\n",
		"definitions:\n  backends:\n    a:\n      origin: http://127.0.0.1:1\n      beta_token_request: {x: {url: /t, backend: a, token: t, ttl: 1s}, default: {url: \"http://127.0.0.1:1\", token: t, ttl: 1s, json_body: [1]}}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			t.Skip()
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		c, err := Parse(data)
		if c != nil {
			_ = c.Warnings()
		}
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)

		if elapsed > maxFuzzTime {
			t.Errorf("Parse of %d bytes took %s", len(data), elapsed)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > maxFuzzAlloc {
			t.Errorf("Parse of %d bytes allocated %d MiB", len(data), alloc>>20)
		}
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v; want exactly one", c != nil, err)
		}
		if err == nil {
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is %T %v, want a non-empty Errors", err, err)
		}
		utf16 := len(data) >= 2 && (data[0] == 0xff && data[1] == 0xfe || data[0] == 0xfe && data[1] == 0xff)
		for _, e := range errs {
			if e.Path == "" || e.Msg == "" || strings.HasPrefix(e.Msg, "yaml: ") {
				t.Errorf("error without a path or message: %q", e.Error())
			}
			if e.Path == "(yaml syntax)" && e.Line == 0 && !utf16 {
				t.Errorf("syntax error without a line: %q", e.Error())
			}
		}
	})
}
