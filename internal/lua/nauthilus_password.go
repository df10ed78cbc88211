package lua

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/passhash"
)

// nauthilus_password (spec nauthilus-lua-modules §4.7): hash comparison for
// Lua password backends, a password policy check and the short hash
// Nauthilus scripts use as a password-history key.
//
// A stored hash comes from wherever the script read it, so it is untrusted
// work: a hash cannot be interrupted once started (so slow ones run on a
// bounded set of workers the script stops waiting for at its deadline,
// password_workers.go), and Argon2's memory is allocated at once. Hashes asking for more than the limits
// below are refused with an error instead of being computed. Argon2's
// memory is not charged to the run's max_memory (a common m=65536 hash
// needs 64 MiB for a moment, the default budget): instead all Argon2
// hashing in flight in the process is bounded by argon2InFlight, and a
// call waits (within script_timeout) for room.
const (
	// Each limit is about a second of CPU or less (docs/benchmarks.md:
	// SHA-512-crypt 5000 rounds 1.7 ms, bcrypt cost 10 61 ms, Argon2id
	// t=3 m=64MiB 0.38 s), several times what deployed hashes use.
	maxLuaSHACryptRounds = 1_000_000
	maxLuaBcryptCost     = 14
	// maxLuaArgon2Work bounds passes × memory (bytes): 4× doveadm's
	// default t=3, m=64MiB.
	maxLuaArgon2Work = 4 * 3 * (64 << 20)
	argon2InFlight   = 512 << 20
)

func init() {
	registerModule(module{
		Name: "nauthilus_password", Filter: true, Password: true,
		Functions: map[string]runFunc{
			"compare_passwords":      comparePasswords,
			"check_password_policy":  checkPasswordPolicy,
			"generate_password_hash": generatePasswordHash,
		},
	})
}

// comparePasswords is compare_passwords(stored_hash, plain) -> (bool, nil)
// or (false, err). A malformed or unsupported hash is an error, never a
// plain mismatch; the message never contains either argument.
func comparePasswords(r *scriptRun, L *glua.LState) int {
	if L.GetTop() != 2 {
		return pushFalseErr(L, "wrong number of arguments")
	}
	stored, plain := L.CheckString(1), L.CheckString(2)
	r.vm().charge(L, int64(len(stored))) // a decoded {SSHA*} value
	sp, err := passhash.ParseStored(stored)
	if err != nil {
		return pushFalseErr(L, err.Error())
	}
	cost := sp.Cost()
	switch {
	case cost.Rounds > maxLuaSHACryptRounds:
		return pushFalseErr(L, fmt.Sprintf("SHA-crypt rounds=%d exceed backline's limit of %d", cost.Rounds, maxLuaSHACryptRounds))
	case cost.BcryptCost > maxLuaBcryptCost:
		return pushFalseErr(L, fmt.Sprintf("bcrypt cost %d exceeds backline's limit of %d", cost.BcryptCost, maxLuaBcryptCost))
	case cost.Argon2Memory > argon2InFlight:
		return pushFalseErr(L, fmt.Sprintf("Argon2 m=%dKiB exceeds backline's limit of %s", cost.Argon2Memory/1024, config.ByteSize(argon2InFlight)))
	case int64(cost.Argon2Passes) > maxLuaArgon2Work/max(cost.Argon2Memory, 1):
		return pushFalseErr(L, fmt.Sprintf("Argon2 t=%d with m=%dKiB exceeds backline's limit of t×m = %s", cost.Argon2Passes, cost.Argon2Memory/1024, config.ByteSize(maxLuaArgon2Work)))
	}
	if !slowHash(cost) {
		ok, err := sp.Verify(plain)
		return pushVerified(L, ok, err)
	}
	finished := func() {}
	if cost.Argon2Memory > 0 {
		gate := hostValue(r.engine.host, "nauthilus_password.argon2", func() *memoryGate { return newMemoryGate(argon2InFlight) })
		if err := gate.acquire(r.ctx, cost.Argon2Memory); err != nil {
			L.RaiseError("compare_passwords: waiting for Argon2 memory: %v", err)
		}
		finished = func() { gate.release(cost.Argon2Memory) }
	}
	// Off the script's goroutine, so the run's deadline holds
	// (password_workers.go).
	ok, err, stopped := hashPoolOf(r.engine.host).verify(r.ctx, sp, plain, finished)
	if stopped != nil {
		if errors.Is(stopped, errHashNotStarted) {
			r.timedOutIn = "compare_passwords, waiting for a password hash worker (all were busy)"
		} else {
			r.timedOutIn = "compare_passwords, during a password hash (it finishes in the background)"
		}
		L.RaiseError("compare_passwords: %v (lua.config.script_timeout is %s)", stopped, r.engine.timeout)
	}
	return pushVerified(L, ok, err)
}

func pushVerified(L *glua.LState, ok bool, err error) int {
	if err != nil {
		return pushFalseErr(L, err.Error())
	}
	L.Push(glua.LBool(ok))
	L.Push(glua.LNil)
	return 2
}

func pushFalseErr(L *glua.LState, msg string) int {
	L.Push(glua.LFalse)
	L.Push(glua.LString(msg))
	return 2
}

// checkPasswordPolicy is check_password_policy(policy, password) -> (bool,
// nil). Length counts bytes; classes are Unicode upper, lower and digit;
// punctuation and symbols are special. Absent or non-number fields are 0.
func checkPasswordPolicy(_ *scriptRun, L *glua.LState) int {
	policy, password := L.CheckTable(1), L.CheckString(2)
	need := func(key string) int {
		if n, ok := policy.RawGetString(key).(glua.LNumber); ok {
			return int(n)
		}
		return 0
	}
	var upper, lower, digit, special int
	for i := 0; i < len(password); {
		c, size := utf8.DecodeRuneInString(password[i:])
		i += size
		switch {
		case unicode.IsUpper(c):
			upper++
		case unicode.IsLower(c):
			lower++
		case unicode.IsDigit(c):
			digit++
		case unicode.IsPunct(c) || unicode.IsSymbol(c):
			special++
		}
	}
	ok := len(password) >= need("min_length") && upper >= need("min_upper") && lower >= need("min_lower") &&
		digit >= need("min_number") && special >= need("min_special")
	L.Push(glua.LBool(ok))
	L.Push(glua.LNil)
	return 2
}

// generatePasswordHash is generate_password_hash(password) -> (hash, nil):
// SHA-256 of nonce, a zero byte and the password, lower-case hex, cut to
// lua.config.password_hash_length (8 as Nauthilus up to 3.0, or 64).
func generatePasswordHash(r *scriptRun, L *glua.LState) int {
	password := L.CheckString(1)
	mod := r.engine.cfg.Config.LuaModuleConfig
	sum := sha256.Sum256([]byte(mod.PasswordNonce + "\x00" + password))
	text := hex.EncodeToString(sum[:])
	n := mod.PasswordHashLength
	if n <= 0 || n > len(text) {
		n = config.DefaultLuaPasswordHashLength
	}
	L.Push(glua.LString(text[:n]))
	L.Push(glua.LNil)
	return 2
}
