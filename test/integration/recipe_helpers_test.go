package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Recipes under docs/recipes/ mark each configuration a test runs with
// `<!-- recipe:NAME -->` on the line before its fenced block. The tests
// read the blocks from the markdown itself, so a recipe cannot drift from
// what the suite runs.

const recipeDir = "../../docs/recipes"

// recipeBlock returns the fenced block after the marker recipe:name in the
// recipe file (without the fences). A missing or doubled marker fails.
func recipeBlock(t *testing.T, file, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(recipeDir, file))
	if err != nil {
		t.Fatal(err)
	}
	marker := "<!-- recipe:" + name + " -->"
	doc := string(raw)
	if n := strings.Count(doc, marker); n != 1 {
		t.Fatalf("%s: marker %q appears %d times, want once", file, marker, n)
	}
	rest := doc[strings.Index(doc, marker)+len(marker):]
	rest = strings.TrimLeft(rest, "\r\n")
	if !strings.HasPrefix(rest, "```") {
		t.Fatalf("%s: marker %q is not followed by a fenced block", file, marker)
	}
	rest = rest[strings.Index(rest, "\n")+1:]
	end := strings.Index(rest, "\n```")
	if end < 0 {
		t.Fatalf("%s: the block after %q is not closed", file, marker)
	}
	return rest[:end+1]
}

// recipeSubst replaces each old string of pairs (old, new, old, new, ...)
// in order; an old string the block does not contain fails the test, so
// an edit of the recipe that the test no longer adapts is noticed.
func recipeSubst(t *testing.T, block string, pairs ...string) string {
	t.Helper()
	if len(pairs)%2 != 0 {
		t.Fatal("recipeSubst: odd number of strings")
	}
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(block, pairs[i]) {
			t.Fatalf("the recipe no longer contains %q; adapt the test to the recipe:\n%s", pairs[i], block)
		}
		block = strings.ReplaceAll(block, pairs[i], pairs[i+1])
	}
	return block
}
