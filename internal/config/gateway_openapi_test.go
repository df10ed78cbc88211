package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

const openAPIHead = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n"

func writeDoc(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// openAPIConfig puts an openapi block for file on line 5.
func openAPIConfig(file, extra string) string {
	return fmt.Sprintf("definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n      openapi:\n        file: %q\n%s", file, extra)
}

func TestOpenAPILoadedOnceAtConfigLoad(t *testing.T) {
	p := writeDoc(t, "api.yaml", openAPIHead)
	cfg := mustParse(t, openAPIConfig(p, "        ignore_response_violations: true\n"))
	o := cfg.Definitions.Backends["api"].OpenAPI
	if o == nil || o.Doc == nil || o.Doc.OpenAPI != "3.0.3" {
		t.Fatalf("document not loaded: %+v", o)
	}
	if !o.IgnoreResponseViolations || o.IgnoreRequestViolations || o.MaxBodySize != DefaultOpenAPIMaxBodySize {
		t.Fatalf("attributes = %+v", o)
	}
}

// TestOpenAPIHostileDocuments: every bad document is a config error at the
// openapi.file key (line 6), never a crash, a hang or a fetch.
func TestOpenAPIHostileDocuments(t *testing.T) {
	// An origin on loopback that counts connections: an external $ref
	// must not be fetched, not even from 127.0.0.1.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var fetched atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fetched.Add(1)
			c.Close()
		}
	}()
	dir := t.TempDir()
	sibling := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(sibling, []byte("A: {type: string}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	schemas := openAPIHead + "components:\n  schemas:\n"
	var bomb strings.Builder
	bomb.WriteString(openAPIHead + "x-a: &a [x, x, x, x, x, x, x, x, x, x]\n")
	prev := "a"
	for i := range 8 {
		name := fmt.Sprintf("b%d", i)
		fmt.Fprintf(&bomb, "x-%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	deep := openAPIHead + "x-deep: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n"
	deepJSON := `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{},"x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "}"
	cases := []struct {
		name, body, want string
	}{
		{"self reference", schemas + "    A: {$ref: '#/components/schemas/A'}\n", "unresolved ref"},
		{"reference cycle", schemas + "    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/A'}\n", "unresolved ref"},
		{"missing reference", schemas + "    A: {$ref: '#/components/schemas/Nope'}\n", "not a usable OpenAPI document"},
		{"external file", schemas + "    A: {$ref: 'other.yaml#/A'}\n", "external references are not followed"},
		{"external absolute file", schemas + "    A: {$ref: '" + sibling + "#/A'}\n", "external references are not followed"},
		{"external url", schemas + "    A: {$ref: 'http://" + ln.Addr().String() + "/x.yaml#/A'}\n", "external references are not followed"},
		{"alias bomb", bomb.String(), "nodes through aliases"},
		{"recursive alias", openAPIHead + "x-a: &a [*a]\n", "line 4: x-a[0]: alias *a refers to a node that contains it"},
		{"deep yaml", deep, "nesting is deeper than 128 levels"},
		{"deep json", deepJSON, "nesting is deeper than 128 levels"},
		{"swagger 2", "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n", "not an OpenAPI 3 document"},
		{"syntax", openAPIHead + "x: [unclosed\n", "line 4"},
		{"empty", "", "empty"},
		{"not a mapping", "- 1\n- 2\n", "not a usable OpenAPI document"},
		{"control chars", openAPIHead + "x: \"\x00\"\n", "line"},
		{"invalid schema", openAPIHead + "components:\n  schemas:\n    A: {type: nope}\n", "invalid OpenAPI document"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".yaml")
			if err := os.WriteFile(p, []byte(c.body), 0o600); err != nil {
				t.Fatal(err)
			}
			wantErrorWith(t, openAPIConfig(p, ""), "definitions.backends.api.openapi.file (line 6): ", c.want)
		})
	}
	if n := fetched.Load(); n != 0 {
		t.Fatalf("the loader connected %d times to a $ref URL", n)
	}
}

func TestOpenAPIHugeAndSpecialFiles(t *testing.T) {
	huge := writeDoc(t, "huge.yaml", openAPIHead+"x: \""+strings.Repeat("a", MaxOpenAPIFileSize)+"\"\n")
	wantErrorWith(t, openAPIConfig(huge, ""), "larger than 4096 KiB")
	wantErrorWith(t, openAPIConfig("/dev/zero", ""), "not a regular file")
	wantErrorWith(t, openAPIConfig(filepath.Join(t.TempDir(), "missing.yaml"), ""), "no such file")
}

func TestOpenAPIBlockAttributes(t *testing.T) {
	p := writeDoc(t, "api.yaml", openAPIHead)
	wantErrorWith(t, "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n      openapi:\n        ignore_request_violations: true\n",
		"definitions.backends.api.openapi.file (line 5): is required")
	wantErrorWith(t, openAPIConfig(p, "        max_body_size: lots\n"), "definitions.backends.api.openapi.max_body_size (line 7)")
	wantErrorWith(t, openAPIConfig(p, "        validate: true\n"), "definitions.backends.api.openapi.validate (line 7)")
	// An inline backend may validate too (Couper allows openapi in any
	// backend but a refinement).
	mustParse(t, fmt.Sprintf("gateway:\n  address: 127.0.0.1:18080\n  endpoints:\n    - path: /x\n      proxy:\n        backend:\n          origin: http://127.0.0.1:9\n          openapi: {file: %q}\n", p))
}

// wantErrorWith checks that one reported error contains every part.
func wantErrorWith(t *testing.T, yml string, parts ...string) {
	t.Helper()
	got := parseErrors(t, yml)
	for _, g := range got {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(g, p)
		}
		if ok {
			return
		}
	}
	t.Errorf("no error contains %q\n got:\n  %s", parts, strings.Join(got, "\n  "))
}
