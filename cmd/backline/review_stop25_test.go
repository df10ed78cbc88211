package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// daemonOptions.gatewayBuilt runs test code in the middle of a reload: no
// production file of the command sets it (serve, demo and runDaemon leave
// it nil), and the one place that reads it only calls it when set.
func TestGatewayBuiltHookIsTestOnly(t *testing.T) {
	fset := token.NewFileSet()
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, de := range files {
		name := de.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr: // daemonOptions{gatewayBuilt: ...}
				if id, ok := n.Key.(*ast.Ident); ok && id.Name == "gatewayBuilt" {
					t.Errorf("%s: a production file sets gatewayBuilt", fset.Position(n.Pos()))
				}
			case *ast.AssignStmt: // opts.gatewayBuilt = ...
				for _, lhs := range n.Lhs {
					if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "gatewayBuilt" {
						t.Errorf("%s: a production file sets gatewayBuilt", fset.Position(n.Pos()))
					}
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "gatewayBuilt" {
					calls++
				}
			}
			return true
		})
	}
	if calls != 1 {
		t.Errorf("gatewayBuilt is called in %d places, want the one in a reload", calls)
	}
}
