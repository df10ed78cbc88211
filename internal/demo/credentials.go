package demo

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
)

// The demo's test account. It guards nothing: the fake servers exist only
// for the lifetime of `backline demo`.
const (
	DemoUser     = "demo"
	DemoPassword = "demo-password"
)

func validLogin(user, pass string) bool {
	okUser := subtle.ConstantTimeCompare([]byte(user), []byte(DemoUser))
	okPass := subtle.ConstantTimeCompare([]byte(pass), []byte(DemoPassword))
	return okUser&okPass == 1
}

// validPlain checks a base64 SASL PLAIN response (authzid NUL user NUL pass).
func validPlain(b64 string) bool {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return false
	}
	parts := bytes.Split(raw, []byte{0})
	return len(parts) == 3 && validLogin(string(parts[1]), string(parts[2]))
}

func decodeB64(s string) string {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return ""
	}
	return string(raw)
}
