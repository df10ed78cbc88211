package passwdfile

import (
	"strings"
	"testing"
)

// testHashes are password fields of several schemes; secrets are the parts
// of each no message may hold.
var testHashes = []struct{ field, secret string }{
	{"{SHA512-CRYPT}$6$saltsalt$Zm9vYmFyYmF6cXV4", "saltsalt"},
	{"$2y$10$abcdefghijklmnopqrstuuQ9Jm0e2bR1x4s", "abcdefghijklmnop"},
	{"{PLAIN}secret", "secret"},
	{"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "c2FsdHNhbHQ"},
	{"hunter2", "hunter2"}, // no scheme: a clear-text password typed as the field
}

// A mistyped first separator (',', '|', '=', ';', ' ', TAB instead of ':')
// puts the password field into the user field. Whatever the parser then
// refuses, the message names the line and what is wrong, never the field.
func TestNoMessageHoldsAHash(t *testing.T) {
	for _, h := range testHashes {
		for _, sep := range []string{",", "|", "=", ";", " ", "\t", "/"} {
			for _, tail := range []string{":", "::::::quota=1G", ""} {
				line := "bob" + sep + h.field + tail
				_, err := Parse([]byte(line+"\n"+line+"\n"), "users")
				if err == nil {
					t.Fatalf("%q twice: accepted", line)
				}
				msg := err.Error()
				if strings.Contains(msg, h.secret) || strings.Contains(msg, "bob"+sep) {
					t.Errorf("%q twice: the field is in the error: %s", line, msg)
				}
				want := "line 2: user (not shown"
				if sep == "\t" { // refused at its first line
					want = "line 1: the user name has a control character (0x09 at byte 4)"
				}
				if !strings.Contains(msg, want) {
					t.Errorf("%q twice: %s, want %q", line, msg, want)
				}
			}
		}
	}
}

// A user field longer than a login name is not cut and shown: its start
// may be a hash written without a separator.
func TestLongUserFieldNotShown(t *testing.T) {
	field := strings.Repeat("a1b2c3d4", 12) // 96 bytes of what could be hex
	_, err := Parse([]byte(field+":x\n"+field+":y\n"), "users")
	if err == nil || strings.Contains(err.Error(), "a1b2c3d4") || !strings.Contains(err.Error(), "96 bytes") {
		t.Errorf("long user field: %v", err)
	}
}

// Every other refusal of the parser says what is wrong by line, quoting
// nothing of the line.
func TestOtherErrorsQuoteNothing(t *testing.T) {
	for _, h := range testHashes {
		for _, c := range []struct{ text, want string }{
			{":" + h.field + "\n", "line 1: empty user name"},
			{"bob\x01" + h.field + ":\n", "line 1: the user name has a control character (0x01 at byte 4)"},
			{"bob:x\n" + h.field + "\x7f:\n", "line 2: the user name has a control character"},
			{"bob:" + h.field + strings.Repeat("x", MaxLineLength) + "\n", "line 1: longer than 1 MiB"},
		} {
			_, err := Parse([]byte(c.text), "users")
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), h.secret) {
				t.Errorf("%.40q: %v, want %q", c.text, err, c.want)
			}
		}
	}
}

// A user name as people write them is still named (with . _ - @ + in it,
// when its password field is a hash: hash_in_user_review_test.go).
func TestListedTwiceNamesAPlainUser(t *testing.T) {
	for _, user := range []string{"bob", "bob.smith@example.org", "b-o_b+tag", "jürgen"} {
		_, err := Parse([]byte(user+":{PLAIN}x\n"+user+":$6$y\n"), "users")
		if err == nil || !strings.Contains(err.Error(), `user "`+user+`" listed twice`) {
			t.Errorf("%s: %v", user, err)
		}
	}
}
