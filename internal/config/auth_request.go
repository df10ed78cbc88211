package config

import (
	"net/textproto"
	"reflect"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// AuthRequest is auth.request.
type AuthRequest struct {
	Headers RequestHeaders `yaml:"headers"`
	// MaxBodySize bounds the body the auth endpoints read: the json
	// endpoint's request, and what Lua's get_http_request_body sees on the
	// others. 0 means DefaultAuthMaxBodySize.
	MaxBodySize ByteSize `yaml:"max_body_size"`
}

// Limits of auth.request.max_body_size. The default holds any request
// Dovecot or a Nauthilus client sends many times over (the longest user
// name and password backline accepts are 9 KiB together); a script that
// adds its own fields for Lua filters to read (get_http_request_body) may
// need more, up to the 1 MiB Nauthilus lets get_http_request_body read.
// The minimum keeps room for the longest credentials with JSON escaping.
const (
	DefaultAuthMaxBodySize ByteSize = 64 << 10
	MinAuthMaxBodySize     ByteSize = 16 << 10
	MaxAuthMaxBodySize     ByteSize = 1 << 20
)

// EffectiveMaxBodySize is MaxBodySize or its default.
func (r AuthRequest) EffectiveMaxBodySize() int64 {
	if r.MaxBodySize == 0 {
		return int64(DefaultAuthMaxBodySize)
	}
	return int64(r.MaxBodySize)
}

// RequestHeaders names the request headers the header and nginx endpoints
// read, as Nauthilus's auth.request.headers (v1: server
// default_http_request_header) does: an empty key keeps the default, so
// only the names that differ need writing (Nauthilus 3 style:
// username: X-Nauthilus-Username). ClientHost has no default: nginx's
// Client-Host is read only when named here, as in Nauthilus.
type RequestHeaders struct {
	Username        string `yaml:"username"`
	Password        string `yaml:"password"`
	PasswordEncoded string `yaml:"password_encoded"`
	Protocol        string `yaml:"protocol"`
	Service         string `yaml:"service"`
	AuthMethod      string `yaml:"auth_method"`
	LoginAttempt    string `yaml:"login_attempt"`
	ClientIP        string `yaml:"client_ip"`
	ClientPort      string `yaml:"client_port"`
	ClientHost      string `yaml:"client_host"`
	ClientID        string `yaml:"client_id"`
	LocalIP         string `yaml:"local_ip"`
	LocalPort       string `yaml:"local_port"`
	SSL             string `yaml:"ssl"`
	SSLProtocol     string `yaml:"ssl_protocol"`
	SSLCipher       string `yaml:"ssl_cipher"`
	SSLVerify       string `yaml:"ssl_verify"`
	SSLSubject      string `yaml:"ssl_subject"`
	SSLIssuer       string `yaml:"ssl_issuer"`
	SSLSerial       string `yaml:"ssl_serial"`
	SSLFingerprint  string `yaml:"ssl_fingerprint"`
}

// DefaultRequestHeaders are the names nginx and Nauthilus clients send.
var DefaultRequestHeaders = RequestHeaders{
	Username: "Auth-User", Password: "Auth-Pass", PasswordEncoded: "X-Auth-Password-Encoded",
	Protocol: "Auth-Protocol", Service: "Auth-Service", AuthMethod: "Auth-Method",
	LoginAttempt: "Auth-Login-Attempt", ClientIP: "Client-IP", ClientPort: "X-Client-Port",
	ClientID: "X-Client-ID", LocalIP: "X-Local-IP", LocalPort: "X-Auth-Port",
	SSL: "Auth-SSL", SSLProtocol: "Auth-SSL-Protocol", SSLCipher: "Auth-SSL-Cipher",
	SSLVerify: "Auth-SSL-Verify", SSLSubject: "Auth-SSL-Subject", SSLIssuer: "Auth-SSL-Issuer",
	SSLSerial: "Auth-SSL-Serial", SSLFingerprint: "Auth-SSL-Fingerprint",
}

// Effective fills every empty name with its default.
func (h RequestHeaders) Effective() RequestHeaders {
	out := h
	v, d := reflect.ValueOf(&out).Elem(), reflect.ValueOf(DefaultRequestHeaders)
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).String() == "" {
			v.Field(i).SetString(d.Field(i).String())
		}
	}
	return out
}

// Fields lists each YAML key with its effective name ("" for unset
// client_host), in declaration order.
func (h RequestHeaders) Fields() []struct{ Key, Name string } {
	eff := h.Effective()
	v, t := reflect.ValueOf(eff), reflect.TypeOf(eff)
	out := make([]struct{ Key, Name string }, t.NumField())
	for i := range out {
		out[i].Key, out[i].Name = t.Field(i).Tag.Get("yaml"), v.Field(i).String()
	}
	return out
}

// validateAuthRequest checks max_body_size's range and refuses names that
// are not HTTP header names (CR,
// LF, spaces, colons...) and two keys naming one header (case-insensitive):
// the second would silently read the first's value. A clash with a default
// is reported at the written key, naming the default.
func (c *Config) validateAuthRequest(errs *Errors) {
	if n := c.Auth.Request.MaxBodySize; n != 0 && (n < MinAuthMaxBodySize || n > MaxAuthMaxBodySize) {
		path := "auth.request.max_body_size"
		errs.Add(path, c.Lines.Line(path), "must be between %s and %s, got %s", MinAuthMaxBodySize, MaxAuthMaxBodySize, n)
	}
	written := map[string]bool{}
	for _, f := range (RequestHeaders{}).Fields() {
		written[f.Key] = false
	}
	raw := reflect.ValueOf(c.Auth.Request.Headers)
	for i := 0; i < raw.NumField(); i++ {
		if raw.Field(i).String() != "" {
			written[raw.Type().Field(i).Tag.Get("yaml")] = true
		}
	}
	seen := map[string]string{}
	for _, f := range c.Auth.Request.Headers.Fields() {
		if f.Name == "" {
			continue
		}
		path := "auth.request.headers." + f.Key
		if !httpguts.ValidHeaderFieldName(f.Name) || strings.ContainsAny(f.Name, "\r\n") {
			errs.Add(path, c.Lines.Line(path), "%q is not an HTTP header name (letters, digits and !#$%%&'*+-.^_`|~ only)", f.Name)
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(f.Name)
		other, dup := seen[key]
		if !dup {
			seen[key] = f.Key
			continue
		}
		switch {
		case written[f.Key] && written[other]:
			errs.Add(path, c.Lines.Line(path), "header %s is already read as auth.request.headers.%s; each key needs its own header", f.Name, other)
		case written[f.Key]:
			errs.Add(path, c.Lines.Line(path), "header %s is the default of auth.request.headers.%s; name that key too, or pick another header", f.Name, other)
		default:
			otherPath := "auth.request.headers." + other
			errs.Add(otherPath, c.Lines.Line(otherPath), "header %s is the default of auth.request.headers.%s; name that key too, or pick another header", f.Name, f.Key)
		}
	}
}
