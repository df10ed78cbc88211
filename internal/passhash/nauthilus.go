package passhash

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Schemes only the Nauthilus-style comparison knows (ParseStored).
const (
	schemeSSHA256  = "SSHA256"
	schemeSSHA512  = "SSHA512"
	schemeMD5Crypt = "MD5-CRYPT"
)

// ParseStored reads a stored hash as Nauthilus' compare_passwords does:
// "{SSHA256}" / "{SSHA512}" (optionally ".HEX" or ".B64" after the name,
// base64 by default; the salt is the tail of the decoded value) or a
// crypt-style "$1$", "$5$", "$6$", "$2a$"/"$2b$"/"$2y$", "$argon2i$" or
// "$argon2id$" string. Clear text is never accepted.
func ParseStored(stored string) (Stored, error) {
	if rest, ok := strings.CutPrefix(stored, "{"); ok {
		name, body, found := strings.Cut(rest, "}")
		if !found {
			return Stored{}, errors.New("password scheme has no closing '}'")
		}
		scheme, encoding, _ := strings.Cut(strings.ToUpper(name), ".")
		if scheme != schemeSSHA256 && scheme != schemeSSHA512 {
			return Stored{}, fmt.Errorf("unsupported password scheme %s", braced(name))
		}
		var raw []byte
		var err error
		switch encoding {
		case "", "B64":
			raw, err = base64.StdEncoding.DecodeString(body)
		case "HEX":
			raw, err = hex.DecodeString(body)
		default:
			return Stored{}, fmt.Errorf("unsupported encoding %s of {%s}", dotted(encoding), scheme)
		}
		if err != nil {
			return Stored{}, fmt.Errorf("{%s}: the hash is not valid %s", scheme, map[bool]string{true: "hex", false: "base64"}[encoding == "HEX"])
		}
		size := sha256.Size
		if scheme == schemeSSHA512 {
			size = sha512.Size
		}
		if len(raw) <= size {
			return Stored{}, fmt.Errorf("{%s}: the hash has no salt", scheme)
		}
		return Stored{scheme: scheme, hash: string(raw)}, nil
	}
	sp, err := detectCrypt(stored)
	if err != nil {
		return Stored{}, errors.New("unsupported or malformed password hash")
	}
	return sp, nil
}

// verifySSHA checks a decoded {SSHA*} value: digest || salt.
func verifySSHA(scheme, raw, password string) bool {
	var digest []byte
	if scheme == schemeSSHA512 {
		salt := raw[sha512.Size:]
		sum := sha512.Sum512([]byte(password + salt))
		digest = sum[:]
		return subtle.ConstantTimeCompare(digest, []byte(raw[:sha512.Size])) == 1
	}
	salt := raw[sha256.Size:]
	sum := sha256.Sum256([]byte(password + salt))
	digest = sum[:]
	return subtle.ConstantTimeCompare(digest, []byte(raw[:sha256.Size])) == 1
}

// Cost is the work a Verify of this hash asks for, so a caller running
// untrusted hashes can refuse one before starting it.
type Cost struct {
	// Rounds of SHA-crypt; BcryptCost of bcrypt (log2 of its rounds).
	Rounds, BcryptCost int
	// Argon2Passes and Argon2Memory (bytes) of Argon2.
	Argon2Passes int
	Argon2Memory int64
}

// Cost reads the hash's work parameters; a malformed hash reports zero and
// fails in Verify.
func (sp Stored) Cost() Cost {
	switch sp.scheme {
	case schemeSHA256, schemeSHA512:
		rounds := shaCryptDefaultRounds
		if r, ok := strings.CutPrefix(sp.hash[min(3, len(sp.hash)):], "rounds="); ok {
			num, _, _ := strings.Cut(r, "$")
			if n, err := strconv.ParseUint(num, 10, 64); err == nil {
				rounds = int(min(max(n, shaCryptMinRounds), shaCryptMaxRounds))
			}
		}
		return Cost{Rounds: rounds}
	case schemeBlowfish:
		if c, err := bcrypt.Cost([]byte(sp.hash)); err == nil {
			return Cost{BcryptCost: c}
		}
	case schemeArgon2ID, schemeArgon2I:
		if p, err := parseArgon2(sp.hash); err == nil {
			return Cost{Argon2Passes: int(p.time), Argon2Memory: int64(p.memory) * 1024}
		}
	}
	return Cost{}
}
