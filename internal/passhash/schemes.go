// Package passhash verifies stored password hashes (Dovecot passwd-file
// schemes and the crypt-style and {SSHA*} hashes Nauthilus scripts compare).
// It sits below both internal/auth and internal/lua.
package passhash

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Password schemes of a Dovecot passwd-file ("{SCHEME}hash").
const (
	schemePlain      = "PLAIN"
	schemeCleartext  = "CLEARTEXT"
	schemeSHA512     = "SHA512-CRYPT"
	schemeSHA256     = "SHA256-CRYPT"
	schemeBlowfish   = "BLF-CRYPT"
	schemeArgon2ID   = "ARGON2ID"
	schemeArgon2I    = "ARGON2I"
	schemeCryptStyle = "CRYPT" // detected from the $id$ prefix
)

// Stored is a parsed passwd-file password field.
type Stored struct {
	scheme string
	hash   string
}

// Parse splits "{SCHEME}hash". Without a scheme, a "$id$"
// hash is recognised by its prefix (Dovecot's default scheme is CRYPT);
// anything else is refused rather than compared as plain text.
func Parse(field string) (Stored, error) {
	if strings.HasPrefix(field, "{") {
		end := strings.IndexByte(field, '}')
		if end < 0 {
			return Stored{}, errors.New("password scheme has no closing '}'")
		}
		sp := Stored{scheme: strings.ToUpper(field[1:end]), hash: field[end+1:]}
		if sp.scheme == schemeCryptStyle {
			return detectCrypt(sp.hash)
		}
		if base, _, _ := strings.Cut(sp.scheme, "."); base == schemeSSHA256 || base == schemeSSHA512 {
			return ParseStored(field) // {SSHA256}, {SSHA512.HEX}, …
		}
		switch sp.scheme {
		case schemeMD5Crypt:
			if !strings.HasPrefix(sp.hash, "$1$") {
				return Stored{}, fmt.Errorf("{%s}: not a $1$ hash", sp.scheme)
			}
		case schemePlain, schemeCleartext:
		case schemeSHA512, schemeSHA256, schemeBlowfish, schemeArgon2ID, schemeArgon2I:
			if _, err := detectCrypt(sp.hash); err != nil {
				return Stored{}, fmt.Errorf("{%s}: %v", sp.scheme, err)
			}
		default:
			return Stored{}, fmt.Errorf("unsupported password scheme %s (supported: PLAIN, CLEARTEXT, SHA512-CRYPT, SHA256-CRYPT, MD5-CRYPT, BLF-CRYPT, ARGON2ID, ARGON2I, SSHA256, SSHA512, CRYPT)", braced(sp.scheme))
		}
		return sp, nil
	}
	return detectCrypt(field)
}

func detectCrypt(h string) (Stored, error) {
	switch {
	case strings.HasPrefix(h, "$1$"):
		return Stored{schemeMD5Crypt, h}, nil
	case strings.HasPrefix(h, "$6$"):
		return Stored{schemeSHA512, h}, nil
	case strings.HasPrefix(h, "$5$"):
		return Stored{schemeSHA256, h}, nil
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		return Stored{schemeBlowfish, h}, nil
	case strings.HasPrefix(h, "$argon2id$"):
		return Stored{schemeArgon2ID, h}, nil
	case strings.HasPrefix(h, "$argon2i$"):
		return Stored{schemeArgon2I, h}, nil
	}
	return Stored{}, errors.New("no password scheme: write {PLAIN}, {SHA512-CRYPT}, … or a $id$ crypt hash")
}

// verify compares password with the stored hash in constant time (per
// scheme). An error means the stored hash itself is unusable.
func (sp Stored) Verify(password string) (bool, error) {
	switch sp.scheme {
	case schemePlain, schemeCleartext:
		return subtle.ConstantTimeCompare([]byte(sp.hash), []byte(password)) == 1, nil
	case schemeSHA512, schemeSHA256:
		got, err := SHACrypt(password, sp.hash)
		if err != nil {
			return false, err
		}
		return subtle.ConstantTimeCompare([]byte(got), []byte(sp.hash)) == 1, nil
	case schemeBlowfish:
		err := bcrypt.CompareHashAndPassword([]byte(sp.hash), []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return err == nil, err
	case schemeArgon2ID, schemeArgon2I:
		return verifyArgon2(sp.hash, password)
	case schemeMD5Crypt:
		got, err := MD5Crypt(password, sp.hash)
		if err != nil {
			return false, err
		}
		return subtle.ConstantTimeCompare([]byte(got), []byte(sp.hash)) == 1, nil
	case schemeSSHA256, schemeSSHA512:
		return verifySSHA(sp.scheme, sp.hash, password), nil
	}
	return false, fmt.Errorf("unsupported scheme %s", sp.scheme)
}

// argon2Params is a parsed "$argon2id$v=19$m=..,t=..,p=..$salt$hash".
type argon2Params struct {
	variant      string
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

var errBadArgon2 = errors.New("malformed Argon2 hash")

func parseArgon2(s string) (argon2Params, error) {
	parts := strings.Split(s, "$")
	// "", variant, v=19, params, salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[2] != "v=19" {
		return argon2Params{}, errBadArgon2
	}
	p := argon2Params{variant: parts[1]}
	if p.variant != "argon2id" && p.variant != "argon2i" {
		return argon2Params{}, errBadArgon2
	}
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return argon2Params{}, errBadArgon2
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return argon2Params{}, errBadArgon2
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 255 {
				return argon2Params{}, errBadArgon2
			}
			p.threads = uint8(n)
		default:
			return argon2Params{}, errBadArgon2
		}
	}
	if p.memory == 0 || p.time == 0 || p.threads == 0 {
		return argon2Params{}, errBadArgon2
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return argon2Params{}, errBadArgon2
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) == 0 {
		return argon2Params{}, errBadArgon2
	}
	return p, nil
}

func verifyArgon2(stored, password string) (bool, error) {
	p, err := parseArgon2(stored)
	if err != nil {
		return false, err
	}
	var got []byte
	if p.variant == "argon2id" {
		got = argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	} else {
		got = argon2.Key([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	}
	return subtle.ConstantTimeCompare(got, p.key) == 1, nil
}

// VerifyField parses a passwd-file password field and checks password
// against it; an error means the field itself is unusable.
func VerifyField(field, password string) (bool, error) {
	sp, err := Parse(field)
	if err != nil {
		return false, err
	}
	return sp.Verify(password)
}
