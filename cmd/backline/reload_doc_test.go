package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// docs/operations.md's "What needs a restart" names exactly the keys
// restartOnly refuses to change, read from reload.go's source: every
// check(key, ...) and errs.Add(key, ...) in it.
func TestRestartKeysDocumented(t *testing.T) {
	code := restartOnlyKeys(t)
	// A reload applies server.log_level (serve gives the daemon a level
	// to set); only a daemon without one, the demo, refuses it, and the
	// demo has no file to reload.
	i := slices.Index(code, "server.log_level")
	if i < 0 {
		t.Fatalf("restartOnly no longer checks server.log_level: %v", code)
	}
	code = slices.Delete(code, i, i+1)

	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "What needs a restart:")
	if start < 0 {
		t.Fatal(`docs/operations.md lacks "What needs a restart:"`)
	}
	para := text[start:]
	para = para[:strings.Index(para+"\n\n", "\n\n")]
	var documented []string
	for _, m := range regexp.MustCompile("`([a-z0-9_.]+)`").FindAllStringSubmatch(para, -1) {
		documented = append(documented, m[1])
	}
	slices.Sort(code)
	slices.Sort(documented)
	if !slices.Equal(code, documented) {
		t.Errorf("docs/operations.md's restart list\n%v\ndiffers from restartOnly's\n%v", documented, code)
	}
}

// restartOnlyKeys parses reload.go and returns the first argument of each
// check and errs.Add call in restartOnly.
func restartOnlyKeys(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "reload.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "restartOnly" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if _, ok := n.(*ast.FuncLit); ok {
				return false // check's own body adds the key it is given
			}
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			name := ""
			switch f := call.Fun.(type) {
			case *ast.Ident:
				name = f.Name
			case *ast.SelectorExpr:
				if x, ok := f.X.(*ast.Ident); ok {
					name = x.Name + "." + f.Sel.Name
				}
			}
			if name != "check" && name != "errs.Add" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Fatalf("%s called with a key that is not a string literal", name)
			}
			key, _ := strconv.Unquote(lit.Value)
			keys = append(keys, key)
			return true
		})
	}
	if len(keys) == 0 {
		t.Fatal("found no keys in restartOnly")
	}
	return keys
}
