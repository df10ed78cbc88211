package lua

import (
	"strings"
	"testing"
)

// A syntax error next to a string literal must not quote the literal: it
// may be a password written into the script, and the error reaches the
// reload API answer and the log. Other tokens are still shown.
func TestSyntaxErrorDoesNotQuoteStringLiterals(t *testing.T) {
	for _, src := range []string{
		"local pw = \"S3CRET-a\n",
		"local pw = 'S3CRET-b\n",
		"x = \"ok\" \"S3CRET-c\"\n",
		"x = 'ok' 'S3CRET-d'\n",
		"f(\"S3CRET-e\" 1)\nx = [[S3CRET-f]] [[S3CRET-g]]\n",
		"x = [[a]] [[S3CRET-h]]\n",
	} {
		_, err := compileSource([]byte(src), "f.lua", true)
		if err == nil {
			t.Errorf("%q compiled", src)
			continue
		}
		if strings.Contains(err.Error(), "S3CRET") {
			t.Errorf("%q: error quotes the string: %v", src, err)
		}
	}
	_, err := compileSource([]byte("x = = 1\n"), "f.lua", true)
	if err == nil || !strings.Contains(err.Error(), "near '='") {
		t.Errorf("other tokens are still named: %v", err)
	}
}
