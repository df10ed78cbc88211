package passhash

import (
	"strings"
	"testing"
)

// A '}' misplaced after the hash makes all of it the "scheme name": the
// error says the scheme is unsupported without quoting it.
func TestUnsupportedSchemeNameHoldsNoHash(t *testing.T) {
	for _, c := range []struct {
		field, secret string
		parse         func(string) (Stored, error)
	}{
		{"{SHA512-CRYPT$6$saltsalt$Zm9vYmFy}", "saltsalt", Parse},
		{"{$2y$10$abcdefghijklmnopqrstuu}", "abcdefghijklmnop", Parse},
		{"{PLAIN secret}", "secret", Parse},
		{"{ARGON2ID$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ}", "c2FsdHNhbHQ", Parse},
		{"{$6$saltsalt$Zm9v}", "saltsalt", ParseStored},
		{"{SSHA256.$6$saltsalt}Zm9v", "saltsalt", ParseStored},
		{"{SSHA256.$6$saltsalt}Zm9v", "saltsalt", Parse},
	} {
		_, err := c.parse(c.field)
		if err == nil {
			t.Fatalf("%q: accepted", c.field)
		}
		if strings.Contains(strings.ToLower(err.Error()), c.secret) {
			t.Errorf("%q: the hash is in the error: %v", c.field, err)
		}
		if !strings.Contains(err.Error(), "unsupported") {
			t.Errorf("%q: %v", c.field, err)
		}
	}
	// A scheme name as written is still named.
	if _, err := Parse("{MD4}abc"); err == nil || !strings.Contains(err.Error(), "{MD4}") {
		t.Errorf("{MD4}: %v", err)
	}
	if _, err := ParseStored("{SSHA256.BASE64}abc"); err == nil || !strings.Contains(err.Error(), ".BASE64") {
		t.Errorf("{SSHA256.BASE64}: %v", err)
	}
	// Other words after the dot may be a password, however short.
	for _, field := range []string{"{SSHA256.hunter2}abc", "{SSHA512.B32}abc"} {
		secret := strings.ToLower(strings.TrimSuffix(field[9:], "}abc"))
		for name, parse := range map[string]func(string) (Stored, error){"Parse": Parse, "ParseStored": ParseStored} {
			_, err := parse(field)
			if err == nil || strings.Contains(strings.ToLower(err.Error()), secret) || !strings.Contains(err.Error(), ".HEX, .B64") {
				t.Errorf("%s(%q): %v", name, field, err)
			}
		}
	}
}
