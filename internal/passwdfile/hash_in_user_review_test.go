package passwdfile

import (
	"strings"
	"testing"
)

// On a German or Nordic keyboard ':' is Shift+'.', so a missed Shift types
// "bob." for "bob:"; '-', '_', '@' and '+' are as near. Such a separator is
// a user name character, and the password field (a hex digest without
// scheme, or a clear-text password someone thought would do) lands in a
// user field that looks like a login name. Listed twice (a line pasted
// again), its error must not quote it.
func TestListedTwiceHidesAHashAfterAUserNameSeparator(t *testing.T) {
	for _, secret := range []string{
		"5f4dcc3b5aa765d61d8327deb882cf99", // MD5 hex, no scheme
		"hunter2",                          // clear text, no scheme
	} {
		for _, sep := range []string{".", "-", "_", "@", "+"} {
			for _, tail := range []string{"", ":", "::::::", ":1000:1000::/home/bob::", ":x"} {
				line := "bob" + sep + secret + tail
				_, err := Parse([]byte(line+"\n"+line+"\n"), "users")
				if err == nil {
					t.Fatalf("%q twice: accepted", line)
				}
				if msg := err.Error(); strings.Contains(msg, secret) || !strings.Contains(msg, "line 2: user (not shown") {
					t.Errorf("%q twice: %s", line, msg)
				}
			}
		}
	}
	// A name with those characters is still named when its password
	// field is a hash: the separator was typed right.
	for _, line := range []string{"bob.smith@example.org:{PLAIN}x", "b-o_b+tag:$6$salt$hash::::::"} {
		_, err := Parse([]byte(line+"\n"+line+"\n"), "users")
		if user, _, _ := strings.Cut(line, ":"); err == nil || !strings.Contains(err.Error(), `user "`+user+`" listed twice`) {
			t.Errorf("%q twice: %v", line, err)
		}
	}
}
