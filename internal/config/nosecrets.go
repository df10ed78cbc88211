package config

import (
	"errors"
	"io/fs"
	"slices"
)

// LoadOptions change how a file is checked.
type LoadOptions struct {
	// NoSecrets (backline check --no-secrets) validates a file away from
	// the machine it runs on: an unset ${VAR} and a missing or unreadable
	// secret or CA file are warnings, the value a stand-in, so the rest of
	// the file is still checked. Such a Config is for reporting only; serve
	// never loads one.
	NoSecrets bool
}

// noSecretStandIn is what a missing secret file or variable reads as under
// NoSecrets: long enough for every minimum length (the auth cache key).
const noSecretStandIn = "no-secrets-stand-in-0123456789abcdef0123456789abcdef"

// LoadWith is Load with options.
func LoadWith(path string, o LoadOptions) (*Config, error) {
	data, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxConfigFileSize {
		return Parse(data) // the size error
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	return parseRootWith(root, o)
}

// absentHere reports whether err is a file missing or unreadable on this
// machine (under NoSecrets, a warning rather than an error).
func absentHere(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)
}

// secretFile reads a secret file named at keyPath; ok is false after an
// error was recorded.
func (v *validator) secretFile(keyPath, file string) (string, bool) {
	secret, err := v.files.readSecret(file)
	switch {
	case err == nil:
		return secret, true
	case v.noSecrets && absentHere(err):
		v.c.noSecretWarnings = append(v.c.noSecretWarnings, Error{Path: keyPath, Line: v.c.Lines.Line(keyPath), Msg: err.Error() + " (--no-secrets: checked with a stand-in)"})
		return noSecretStandIn, true
	default:
		v.add(keyPath, "%v", err)
		return "", false
	}
}

// caFile checks a CA bundle named at keyPath; false when it is missing
// under NoSecrets (a warning; the caller drops the path).
func (v *validator) caFile(keyPath, file string) bool {
	err := v.files.checkCA(file)
	switch {
	case err == nil:
		return true
	case v.noSecrets && absentHere(err):
		v.c.noSecretWarnings = append(v.c.noSecretWarnings, Error{Path: keyPath, Line: v.c.Lines.Line(keyPath), Msg: err.Error() + " (--no-secrets: checked without it)"})
		return false
	default:
		v.add(keyPath, "%v", err)
		return true
	}
}

// UnsetEnvStandIn is asked by what resolves variables after load (the
// gateway's ${env.NAME}) about a variable that is not set at keyPath. A
// Config loaded with NoSecrets records a warning, as for ${VAR}, and gives
// the stand-in; ok is false otherwise, and the caller refuses the value as
// serve would.
func (c *Config) UnsetEnvStandIn(keyPath, name string) (value string, ok bool) {
	value, ok = c.NoSecretStandIn()
	if !ok {
		return "", false
	}
	w := Error{Path: keyPath, Line: c.Lines.Line(keyPath),
		Msg: "environment variable " + name + " is not set (--no-secrets: checked with a stand-in)"}
	// The same value compiled twice (a gateway built again from this
	// Config) warns once.
	if !slices.Contains(c.noSecretWarnings, w) {
		c.noSecretWarnings = append(c.noSecretWarnings, w)
	}
	return value, true
}

// NoSecretStandIn is what a missing secret reads as in a Config loaded with
// NoSecrets; ok is false in any other Config.
func (c *Config) NoSecretStandIn() (string, bool) {
	if !c.noSecrets {
		return "", false
	}
	return noSecretStandIn, true
}
