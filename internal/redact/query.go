package redact

import (
	"strings"

	"github.com/backline/backline/internal/textutil"
)

// sensitiveParamWords mark a URL parameter whose value is a credential when
// its name, percent-decoded, lowercased and stripped to letters and digits,
// contains one of them. Substrings on purpose: "access_token", "id_token",
// "X-Amz-Signature", "X-Goog-Credential", "client_secret", "code_verifier"
// and "api-Key" all match. The price is that a harmless "keyword",
// "author" or "zipcode" is withheld too; a log reader loses a value, never
// a credential.
var sensitiveParamWords = [][]byte{
	[]byte("token"),      // access_token, id_token, refresh_token, X-Amz-Security-Token
	[]byte("secret"),     // client_secret
	[]byte("pass"),       // password, passwd, pass, passphrase
	[]byte("pwd"),        //
	[]byte("key"),        // key, api_key, apikey, X-Goog-Api-Key
	[]byte("auth"),       // auth, authcode
	[]byte("sig"),        // sig, signature, X-Amz-Signature, X-Goog-Signature, oauth_signature
	[]byte("session"),    // session, sessionid
	[]byte("sid"),        // sid, PHPSESSID
	[]byte("code"),       // an OAuth authorization code, code_verifier
	[]byte("credential"), // X-Amz-Credential, X-Goog-Credential
	[]byte("jwt"),        //
	[]byte("assertion"),  // client_assertion, SAML assertions
	[]byte("otp"),        // one-time passwords
	[]byte("nonce"),      //
	[]byte("ticket"),     // CAS service tickets (?ticket=ST-…)
	[]byte("saml"),       // SAMLResponse of the redirect binding
	[]byte("verifier"),   // oauth_verifier (OAuth 1.0a)
	[]byte("hmac"),       //
	[]byte("cred"),       // creds, credentials
	[]byte("bearer"),     //
}

// sensitiveParamNames are whole names too short to be searched inside
// others ("pin" is in "shipping", "pw" in many a word): a PIN, a password.
var sensitiveParamNames = map[string]bool{"pw": true, "pin": true}

// SensitiveParam tells whether the value of the URL query (or form)
// parameter called name, as written in the URL, must not be shown. The
// name is percent-decoded once first ("acc%65ss_token" is access_token to
// the origin); a name that does not decode, or still holds a '%' after
// decoding, is taken as sensitive, since what it hides is unknown.
func SensitiveParam(name string) bool {
	var buf [64]byte
	folded := buf[:0]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '%' {
			if i+2 >= len(name) || !textutil.IsHexDigit(name[i+1]) || !textutil.IsHexDigit(name[i+2]) {
				return true
			}
			c = textutil.HexDigitValue(name[i+1])<<4 | textutil.HexDigitValue(name[i+2])
			if c == '%' {
				return true // encoded twice: decoded again somewhere, maybe
			}
			i += 2
		}
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			folded = append(folded, c)
		case c >= 'A' && c <= 'Z':
			folded = append(folded, c+'a'-'A')
		}
	}
	for _, w := range sensitiveParamWords {
		if containsBytes(folded, w) {
			return true
		}
	}
	return sensitiveParamNames[string(folded)]
}

// querySeparators end a parameter in a raw query.
const querySeparators = "&;#"

// Query returns a raw URL query (what follows '?', without it) with the
// value of every sensitive parameter replaced by Placeholder: names, order,
// duplicates and parameters without a value stay as written. '&', ';' and
// '#' separate parameters: Go's net/url refuses ';', but origins that split
// on it exist, and "a=1;token=x" must not log the token as a's value; a
// request target's '#' stays in the raw query url.ParseRequestURI returns
// ("a=1#access_token=x", as an implicit grant's fragment reads).
// An empty value stays empty: there is nothing to withhold.
func Query(raw string) string {
	var b strings.Builder
	done := 0 // raw[:done] is in b, or nothing changed yet
	start := 0
	for start <= len(raw) {
		end := start + strings.IndexAny(raw[start:], querySeparators)
		if end < start {
			end = len(raw)
		}
		pair := raw[start:end]
		if name, value, ok := strings.Cut(pair, "="); ok && value != "" && value != Placeholder {
			shown := Placeholder
			if !SensitiveParam(name) {
				shown = nestedShown(value)
			}
			if shown != value {
				if b.Len() == 0 {
					b.Grow(len(raw))
				}
				valueAt := start + len(name) + 1
				b.WriteString(raw[done:valueAt])
				b.WriteString(shown)
				done = end
			}
		}
		start = end + 1
	}
	if done == 0 {
		return raw
	}
	b.WriteString(raw[done:])
	return b.String()
}

// Text withholds credentials in free text that may quote a URL, a header
// value or a query: an error of Go's HTTP client (`Get "https://h/p?access_token=…": …`),
// a Location or Refresh header, a line a server sent. Every name=value
// pair whose name is sensitive (SensitiveParam) has its value replaced by
// Placeholder, and the password of a URL's user info ("https://u:pw@h/")
// too. A pair's name is the run of name characters before '='; its value
// runs to whitespace, an unescaped quote, '&' or ';' (a backslash escapes
// the next byte, as in a Go-quoted string, so a `\"` inside a value does
// not end it). Text without '=' or "://" comes back unchanged.
func Text(s string) string {
	return text(s, maxDecodes)
}

// maxDecodes bounds how often a harmless value is percent-decoded to look
// for a URL credential inside (twice: %253D is an '=' encoded twice), so a
// value encoded a thousand times over costs a few passes, not a thousand.
const maxDecodes = 2

// nestedShown is a harmless parameter's value as a query shows it: a URL
// or pair inside it with a credential (next=/cb?access_token=…,
// a=1%26token=…) has that credential withheld as in Text, and a value that
// holds one only once percent-decoded (return_to=https%3A%2F%2Fh%2F%3Fcode%3D…)
// is withheld whole, since its encoded form cannot be cut apart.
func nestedShown(value string) string {
	if strings.IndexByte(value, '=') >= 0 || strings.Contains(value, "://") {
		if shown := text(value, maxDecodes); shown != value {
			if strings.ContainsAny(value, "\"' \t") {
				// Text ends a value at a quote or blank, the query
				// does not: what follows may be the credential's rest.
				return Placeholder
			}
			return shown
		}
	}
	if encodedCredential(value, maxDecodes) {
		return Placeholder
	}
	return value
}

// encodedCredential tells whether value, percent-decoded (up to decodes
// times), holds what Text withholds. Only a value with an encoded '=',
// '@' or '%' is decoded at all: nothing else can hide a pair or a user info.
func encodedCredential(value string, decodes int) bool {
	if decodes <= 0 || !hasEncodedSeparator(value) {
		return false
	}
	decoded := percentDecode(value)
	return decoded != value && (text(decoded, decodes-1) != decoded || encodedCredential(decoded, decodes-1))
}

func hasEncodedSeparator(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		switch hi, lo := s[i+1], s[i+2]|0x20; {
		case hi == '3' && lo == 'd', hi == '4' && lo == '0', hi == '2' && lo == '5':
			return true
		}
	}
	return false
}

// percentDecode decodes every valid %XX once and leaves the rest as it is.
func percentDecode(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && textutil.IsHexDigit(s[i+1]) && textutil.IsHexDigit(s[i+2]) {
			b = append(b, textutil.HexDigitValue(s[i+1])<<4|textutil.HexDigitValue(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func text(s string, decodes int) string {
	s = userInfoPasswords(s)
	if strings.IndexByte(s, '=') < 0 {
		return s
	}
	var b strings.Builder
	done, i := 0, 0
	// A '=' inside a value already scanned (a=b=c=…) has that value's end:
	// scanning on from it would find the same one, and doing so for every
	// '=' of a long hostile value is quadratic. The encoded form of a
	// value is judged once too (checkedEnd), with all of the value.
	valueEnd, checkedEnd := -1, -1
	for i < len(s) {
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			break
		}
		eq += i
		start := eq
		for start > done && isNameByte(s[start-1]) {
			start--
		}
		if eq+1 > valueEnd {
			valueEnd = textValueEnd(s, eq+1)
		}
		end := valueEnd
		value := s[eq+1 : end]
		withhold := start < eq && value != "" && value != Placeholder && SensitiveParam(s[start:eq])
		if !withhold && start < eq && eq+1 > checkedEnd {
			checkedEnd = end
			// Only percent-decoded does it show its credential
			// (return_to=https%3A%2F%2Fh%2F%3Fcode%3D…): withheld whole.
			withhold = encodedCredential(value, decodes)
		}
		if !withhold {
			// A harmless value may itself hold pairs (redirect_uri=/cb?code=…).
			i = eq + 1
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[done : eq+1])
		b.WriteString(Placeholder)
		done, i = end, end
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// textValueEnd is where the value that starts at s[from] ends in free text.
func textValueEnd(s string, from int) int {
	for i := from; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // the escaped byte belongs to the value
		case ' ', '\t', '\r', '\n', '"', '\'', '&', ';':
			return i
		}
	}
	return len(s)
}

// isNameByte: what a parameter name in free text is made of. Anything
// else (':', '?', '/', quotes, space, '=') ends it, so "Location: /?token=x"
// and `"…?sig=x"` find their names.
func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '%' || c == '+' || c == '~' || c == '[' || c == ']' || c >= 0x80
}

// userInfoPasswords replaces the password of every "scheme://user:pw@host"
// in s. The user info ends at the last '@' before the path, query,
// fragment, whitespace or a quote.
func userInfoPasswords(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	done := 0
	for i := 0; ; {
		at := strings.Index(s[i:], "://")
		if at < 0 {
			break
		}
		authStart := i + at + 3
		authEnd := authStart
		for authEnd < len(s) && strings.IndexByte("/?#\"' \t\r\n\\", s[authEnd]) < 0 {
			authEnd++
		}
		authority := s[authStart:authEnd]
		if userinfo, _, found := cutLast(authority, "@"); found {
			if colon := strings.IndexByte(userinfo, ':'); colon >= 0 && userinfo[colon+1:] != Placeholder {
				b.WriteString(s[done : authStart+colon+1])
				b.WriteString(Placeholder)
				done = authStart + len(userinfo)
			}
		}
		i = authEnd
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

func containsBytes(s, sub []byte) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if string(s[i:i+len(sub)]) == string(sub) {
			return true
		}
	}
	return false
}

// RequestURI is a request target (path?query#fragment) as shown: what
// follows its first '?' or '#' goes through Query, which, unlike Text,
// does not end a value at a raw space or quote (the very characters that
// make a configured request_uri an error), and its path through Text (a
// ;jsessionid=… path parameter).
func RequestURI(s string) string {
	i := strings.IndexAny(s, "?#")
	if i < 0 {
		return Text(s)
	}
	return Text(s[:i]) + s[i:i+1] + Query(s[i+1:])
}
