package passhash

import (
	"strings"
	"testing"
)

// "user:{password}" is how many guides write a placeholder, and a
// clear-text password (or a short hash) in braces looks like a scheme name
// of letters and digits. compare_passwords(plain, stored) with its
// arguments swapped hands a script's clear-text password to ParseStored.
// Neither error may quote it: only scheme names known as such are named.
func TestUnknownSchemeNameNotShown(t *testing.T) {
	for _, field := range []string{"{hunter2}", "{Secret_1}", "{correct-horse}", "{5f4dcc3b5aa7}"} {
		secret := strings.ToLower(strings.Trim(field, "{}"))
		for name, parse := range map[string]func(string) (Stored, error){"Parse": Parse, "ParseStored": ParseStored} {
			_, err := parse(field + "x")
			if err == nil || strings.Contains(strings.ToLower(err.Error()), secret) {
				t.Errorf("%s(%q): %v", name, field, err)
			}
		}
	}
	// Schemes other systems write are still named, in any case.
	for _, field := range []string{"{MD5}abc", "{SSHA}abc", "{sha}abc", "{PLAIN-MD5}abc", "{PBKDF2}abc", "{MD4}abc", "{CRAM-MD5}abc"} {
		want := "{" + strings.ToUpper(strings.Trim(strings.TrimSuffix(field, "abc"), "{}")) + "}"
		if _, err := Parse(field); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want %s", field, err, want)
		}
	}
}
