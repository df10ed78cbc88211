package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on what a request may carry. They are far above anything nginx or
// Dovecot send and keep one request from costing more than a login should.
const (
	// maxEchoBytes bounds a client value quoted in a 400 reason.
	maxEchoBytes = 64
	// maxReasonBytes bounds a whole 400 reason, in the answer and the log.
	maxReasonBytes = 256
	// maxUsernameBytes: a mail address has at most 254 bytes; nginx reads
	// an answer of at most 1024 bytes (a longer name is not echoed).
	maxUsernameBytes = 1024
	// maxPasswordBytes is Dovecot's SASL line limit: room for OAuth bearer
	// tokens, while a SHA-crypt check (cost grows with the length) stays cheap.
	maxPasswordBytes = 8192
)

// lineBreakChars may never reach a line protocol: a CR LF in a password
// would end the LOGIN/PASS line and start a command of the client's choice.
const lineBreakChars = "\r\n\x00"

// quoteValue renders a client value for a 400 reason: control characters
// escaped (Go quoting), and a long value cut at a character boundary and
// marked with an ellipsis and its length.
func quoteValue(s string) string {
	if len(s) <= maxEchoBytes {
		return strconv.Quote(s)
	}
	cut := maxEchoBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]+"…") + " (" + strconv.Itoa(len(s)) + " bytes)"
}

// reasonText makes a 400 reason safe for a header, a body and a log line:
// no control characters, at most maxReasonBytes.
func reasonText(msg string) string {
	if len(msg) > maxReasonBytes {
		return headerText(msg, maxReasonBytes-len("…")) + "…"
	}
	return headerText(msg, maxReasonBytes)
}

// The headers read as one value (requestHeaderSet.single): a proxy that
// sends one twice is broken or being played; which copy wins must not be
// a guess.

// checkSingleValued refuses a request that repeats a header read as one
// value, or one of the query parameters.
func checkSingleValued(names *requestHeaderSet, h http.Header, q url.Values) error {
	for _, hn := range names.single {
		if n := hn.count(h); n > 1 {
			return badRequest("header %s is sent %d times; send it once", hn.name, n)
		}
	}
	for _, name := range []string{"mode", "cache", "in-memory"} {
		if n := len(q[name]); n > 1 {
			return badRequest("query parameter %s is sent %d times; send it once", name, n)
		}
	}
	return nil
}

// jsonFieldNames are the keys jsonRequest reads. encoding/json matches keys
// case-insensitively and lets the last copy win, so "username" and
// "USERNAME" are the same key twice.
var jsonFieldNames = []string{
	"username", "password", "client_ip", "client_port", "client_hostname", "client_id",
	"local_ip", "local_port", "service", "method", "auth_login_attempt", "protocol", "ssl",
	"ssl_protocol", "ssl_cipher", "ssl_client_verify", "ssl_fingerprint", "ssl_serial",
}

// duplicateJSONKey returns the first known top-level key that body (already
// decoded without error) holds more than once, or "". Unknown keys are
// ignored, repeated or not, as they are when decoding.
func duplicateJSONKey(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "" // null: nothing to repeat
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
		for _, name := range jsonFieldNames {
			if strings.EqualFold(key, name) {
				if seen[name] {
					return name
				}
				seen[name] = true
			}
		}
	}
	return ""
}

// checkCredentials refuses user names and passwords that could break a
// protocol line or cost more than a login: CR, LF, NUL, or oversize. The
// reason never repeats the value.
func checkCredentials(req *Request) error {
	if strings.ContainsAny(req.Username, lineBreakChars) {
		return badCredentials("username contains CR, LF or NUL")
	}
	if strings.ContainsAny(req.Password, lineBreakChars) {
		return badCredentials("password contains CR, LF or NUL")
	}
	if len(req.Username) > maxUsernameBytes {
		return badCredentials("username longer than %d bytes", maxUsernameBytes)
	}
	if len(req.Password) > maxPasswordBytes {
		return badCredentials("password longer than %d bytes", maxPasswordBytes)
	}
	return nil
}

// maxFieldBytes bounds each other field of a request (client address and
// id, ports, protocol, method, TLS details). Dovecot's IMAP ID values are
// at most 1024 bytes (RFC 2971) and a certificate DN a few hundred; a JSON
// body may be larger than a request head (auth.request.max_body_size), so
// this keeps one field from filling the log line and the Lua request.
const maxFieldBytes = 4096

// checkFieldSizes refuses a request with an oversized field other than the
// credentials, naming the field, never its value.
func checkFieldSizes(req *Request) error {
	for _, f := range [...]struct{ name, value string }{
		{"protocol", req.Protocol}, {"method", req.Method}, {"client_ip", req.ClientIP},
		{"client_port", req.ClientPort}, {"client_hostname", req.ClientHost}, {"client_id", req.ClientID},
		{"local_ip", req.LocalIP}, {"local_port", req.LocalPort},
	} {
		if len(f.value) > maxFieldBytes {
			return badRequest("field %s longer than %d bytes", f.name, maxFieldBytes)
		}
	}
	for _, name := range sortedKeys(req.SSL) {
		if len(req.SSL[name]) > maxFieldBytes {
			return badRequest("field %s longer than %d bytes", name, maxFieldBytes)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jsonBodyError describes a body encoding/json refused without quoting it:
// a syntax error names the byte offset, not the character (which may be
// part of the password), and a type error names the field and the kinds.
func jsonBodyError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("invalid JSON body: empty body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("invalid JSON body: unexpected EOF")
	case errors.As(err, &syntax):
		return badRequest("invalid JSON body: syntax error at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		// Value is a JSON kind ("number", "array"...), for numbers
		// sometimes followed by the number: the kind only.
		got, _, _ := strings.Cut(typ.Value, " ")
		want := typ.Type.Kind().String()
		if typ.Type.Kind() == reflect.Struct {
			want = "object"
		}
		if typ.Field == "" {
			return badRequest("invalid JSON body: the body must be %s, not %s", withArticle(want), withArticle(got))
		}
		return badRequest("invalid JSON body: field %s must be %s, not %s", typ.Field, withArticle(want), withArticle(got))
	}
	return badRequest("invalid JSON body: %v", err)
}

// withArticle is "a string", "an object".
func withArticle(kind string) string {
	if kind != "" && strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}
