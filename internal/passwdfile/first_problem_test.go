package passwdfile

import (
	"strings"
	"testing"
)

// Of several problems, the one a reader meets first in the file is
// reported, whichever kind it is.
func TestFirstProblemInFileOrder(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"a:x\nb:x\na:y\n:z\n", "line 3: user \"a\" listed twice (first on line 1)"},
		{"a:x\n:z\nb:x\na:y\n", "line 2: empty user name"},
		{"a:x\n# c\n\nb\x01:x\na:y\n", "line 4: the user name has a control character"},
		{"a:x\n\n  \n# only comments and blanks between\na:y\n", "line 5: user \"a\" listed twice (first on line 1)"},
	} {
		_, err := Parse([]byte(c.text), "users")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
	}
	// Blank and comment lines make no entry; line numbers still count them.
	entries, err := Parse([]byte("\n# x\na:x\n\n \nb:y"), "users")
	if err != nil || len(entries) != 2 || entries[0].Line != 3 || entries[1].Line != 6 {
		t.Fatalf("%+v %v", entries, err)
	}
}
