package passwdfile

import (
	"strings"
	"testing"
)

// A mistyped first separator puts the password field into the user field;
// listed twice, that line's error must not show it.
func TestListedTwiceHidesAUserFieldHoldingAHash(t *testing.T) {
	const hash = "$6$saltsalt$Zm9vYmFyYmF6cXV4"
	for _, line := range []string{
		"bob {SHA512-CRYPT}" + hash + "::::::quota=1G",
		"bob;{SHA512-CRYPT}" + hash + ":",
		"bob\t" + hash + ":",
	} {
		_, err := Parse([]byte(line+"\n"+line+"\n"), "users")
		if err == nil {
			t.Fatalf("%q twice: accepted", line)
		}
		if msg := err.Error(); strings.Contains(msg, "saltsalt") || strings.Contains(msg, "Zm9v") {
			t.Errorf("%q twice: the hash is in the error: %s", line, msg)
		}
	}
	if _, err := Parse([]byte("bob:x\nbob:y\n"), "users"); err == nil || !strings.Contains(err.Error(), `"bob"`) {
		t.Errorf("a plain user is still named: %v", err)
	}
}
