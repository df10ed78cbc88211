package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRecipeConfigsCheckAsWritten runs `backline check --no-secrets` on each
// recipe's backline.yml exactly as the recipe shows it (example addresses
// and /etc paths that do not exist here): an operator who copies it and
// checks it before creating the files gets warnings only, no error.
func TestRecipeConfigsCheckAsWritten(t *testing.T) {
	bin := buildBackline(t)
	for _, recipe := range []string{"nginx-mail-proxy.md", "dovecot-proxy.md", "api-gateway.md"} {
		t.Run(recipe, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "backline.yml")
			writeFile(t, file, recipeBlock(t, recipe, "backline.yml"))
			r := runBackline(t, bin, "check", "--no-secrets", "--config", file)
			if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "configuration OK") {
				t.Errorf("backline check --no-secrets: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
