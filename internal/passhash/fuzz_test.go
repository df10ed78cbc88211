package passhash

import "testing"

// FuzzParseStored: any stored value parses or fails without panicking, and
// a parsed cheap hash verifies without panicking.
func FuzzParseStored(f *testing.F) {
	for _, s := range []string{"{SSHA256}" + ssha256B64, "{SSHA512.HEX}00", "$1$salt$x", "$5$rounds=1000$s$x",
		"$6$", "$2y$04$abc", "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", "{x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stored string) {
		sp, err := ParseStored(stored)
		if err != nil {
			return
		}
		c := sp.Cost()
		if c.Rounds > 20000 || c.BcryptCost > 6 || c.Argon2Memory > 1<<20 || c.Argon2Passes > 2 {
			return // too slow for a fuzz loop
		}
		_, _ = sp.Verify("pw")
	})
}
