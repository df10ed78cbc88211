package config

import (
	"fmt"
	"os"
)

// secretFile is a configured file that holds a secret, by key path.
type secretFile struct{ path, file string }

// secretFiles lists every *_file key (and passwd-file path) whose content is
// a secret: passwords, tokens, password hashes and TLS private keys.
func (c *Config) secretFiles() []secretFile {
	var out []secretFile
	add := func(path, file string) {
		if file != "" {
			out = append(out, secretFile{path, file})
		}
	}
	a := c.Server.APIAuth
	add("server.api_auth.password_file", a.PasswordFile)
	add("server.api_auth.bearer_token_file", a.BearerFile)
	add("auth.cache.hmac_key_file", c.Auth.Cache.HMACKeyFile)
	if r := c.Storage.Redis; r != nil {
		add("storage.redis.tls.key", r.TLS.Key)
	}
	if c.Server.TLS != nil {
		add("server.tls.key_file", c.Server.TLS.KeyFile)
	}
	if c.Gateway.TLS != nil {
		add("gateway.tls.key_file", c.Gateway.TLS.KeyFile)
	}
	for i, t := range c.Auth.Services.BackendHealthChecks.Targets {
		add(fmt.Sprintf("%s.targets[%d].test_password_file", healthChecksPath, i), t.TestPasswordFile)
		add(fmt.Sprintf("%s.targets[%d].tls_key_file", healthChecksPath, i), t.TLSKeyFile)
	}
	for i, db := range c.Auth.Passdb {
		if db.Type == PassdbPasswdFile {
			add(fmt.Sprintf("auth.passdb[%d].path", i), db.Path)
		}
	}
	// Every backend, the inline ones a token is fetched through too.
	c.eachBackend(func(path string, b *Backend) {
		if b.TLS != nil {
			add(path+".tls.client_private_key_file", b.TLS.ClientPrivateKeyFile)
		}
		if o := b.OAuth2; o != nil && o.JWTSigningProfile != nil {
			add(path+".oauth2.jwt_signing_profile.key_file", o.JWTSigningProfile.KeyFile)
		}
	})
	return out
}

// secretFileWarnings warns, as ssh does for a private key, about a secret
// file that users other than its owner can read or write (mode & 0o077). It
// is a warning, not an error: a group-readable file shared with a trusted
// group is a choice some operators make on purpose.
// A file named by many keys (a thousand targets sharing one client key) is
// looked at and warned about once, at the first key, with their number.
func (c *Config) secretFileWarnings(warn func(path, format string, args ...any)) {
	files := c.secretFiles()
	named := map[string]int{}
	for _, s := range files {
		named[s.file]++
	}
	for _, s := range files {
		n := named[s.file]
		if n == 0 {
			continue // warned at its first key
		}
		named[s.file] = 0
		st, err := os.Stat(s.file)
		if err != nil || !st.Mode().IsRegular() {
			continue // an unreadable file is a load error already
		}
		shared := ""
		if n > 1 {
			shared = fmt.Sprintf(" (%d keys name this file)", n)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			warn(s.path, "%q holds a secret and is open to group or other users (mode %04o); make it private to the daemon's user (chmod 600)%s", s.file, perm, shared)
		}
	}
}
