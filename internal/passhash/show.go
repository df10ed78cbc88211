package passhash

// maxShownSchemeName bounds a scheme name an error quotes; the longest
// known one (SHA512-CRYPT) is 12 bytes.
const maxShownSchemeName = 20

// notShown stands for a scheme name or encoding an error does not quote.
const notShown = "(name not shown: it may hold the hash; check where its '}' is)"

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

// braced is a scheme name for a message: {NAME}, or why it is not shown.
func braced(name string) string {
	if looksLikeSchemeName(name) {
		return "{" + name + "}"
	}
	return notShown
}

// dotted is an {SSHA*} encoding for a message: .NAME, or why it is not
// shown.
func dotted(encoding string) string {
	if looksLikeSchemeName(encoding) {
		return "." + encoding
	}
	return notShown
}
