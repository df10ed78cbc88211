package passhash

import "strings"

// maxShownSchemeName bounds a scheme name an error quotes; the longest
// known one (SHA512-CRYPT) is 12 bytes.
const maxShownSchemeName = 20

// notShown stands for a scheme name or encoding an error does not quote.
const notShown = "(name not shown: it is no scheme name known and may hold the password or hash; check what is between the braces)"

// looksLikeSchemeName: short, and only letters, digits, '-' and '_'. A '}'
// misplaced after the hash, or a space typed instead of it, makes the hash
// part of what sits between the braces, and then it is not quoted.
func looksLikeSchemeName(name string) bool {
	if name == "" || len(name) > maxShownSchemeName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// knownSchemeNames are the scheme names Dovecot and LDAP directories write
// (RFC 2307 and its extensions), supported here or not: an unsupported
// scheme is named only when it is one of them. Anything else between the
// braces may be a clear-text password or short hash ("user:{password}",
// a placeholder filled in as written; compare_passwords with its
// arguments swapped), however much it looks like a name.
var knownSchemeNames = map[string]bool{
	"PLAIN": true, "CLEAR": true, "CLEARTEXT": true, "PLAIN-TRUNC": true, "CRYPT": true, "DES-CRYPT": true,
	"MD5-CRYPT": true, "SHA256-CRYPT": true, "SHA512-CRYPT": true, "BLF-CRYPT": true, "ARGON2I": true, "ARGON2ID": true,
	"MD4": true, "MD5": true, "SMD5": true, "SHA": true, "SHA1": true, "SSHA": true, "SHA256": true, "SSHA256": true,
	"SHA512": true, "SSHA512": true, "PLAIN-MD4": true, "PLAIN-MD5": true, "LDAP-MD5": true, "CRAM-MD5": true,
	"DIGEST-MD5": true, "HMAC-MD5": true, "SCRAM-SHA-1": true, "SCRAM-SHA-256": true, "PBKDF2": true, "LANMAN": true,
	"NTLM": true, "OTP": true, "SKEY": true, "RPA": true, "SASL": true, "K5KEY": true, "PKCS5S2": true,
}

// braced is a scheme name for a message: {NAME} for a known one, or why
// it is not shown.
func braced(name string) string {
	if looksLikeSchemeName(name) && knownSchemeNames[strings.ToUpper(name)] {
		return "{" + name + "}"
	}
	return notShown
}

// knownEncodings are the encodings Dovecot writes after a scheme name
// ({SSHA256.HEX}); only HEX and B64 are supported. As with scheme names,
// anything else after the dot may be a password ("{SSHA256.hunter2}").
var knownEncodings = map[string]bool{"HEX": true, "B64": true, "BASE64": true}

// encodingNotShown stands for an encoding an error does not quote.
const encodingNotShown = "(name not shown: it is no encoding known and may hold the password or hash; write .HEX, .B64 or no encoding)"

// dotted is an {SSHA*} encoding for a message: .NAME for a known one, or
// why it is not shown.
func dotted(encoding string) string {
	if knownEncodings[strings.ToUpper(encoding)] {
		return "." + encoding
	}
	return encodingNotShown
}
