package auth

import (
	"testing"

	"github.com/backline/backline/internal/config"
)

// knownUsers puts users (any password) into a passwd-file passdb, before
// the test users: a no-auth lookup finds exactly them.
func knownUsers(t testing.TB, users []string, then func(*config.Config)) func(*config.Config, *Options) {
	return func(c *config.Config, _ *Options) {
		lines := []string{"# known users"}
		for _, u := range users {
			lines = append(lines, u+":{PLAIN}pw-"+u)
		}
		c.Auth.Passdb = append([]config.Passdb{{Type: config.PassdbPasswdFile, Path: writePasswdB(t, lines...)}}, c.Auth.Passdb...)
		if then != nil {
			then(c)
		}
	}
}
