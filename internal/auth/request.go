// Package auth answers the nginx auth_http, header and json authentication
// endpoints: it parses the request, checks the password against the
// configured password databases (behind a positive cache), runs the Lua
// filters and picks a healthy backend for nginx.
package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/lua"
	"github.com/backline/backline/internal/textutil"
)

// defaultMaxBodyBytes is auth.request.max_body_size's default: the bound
// on the body an auth endpoint reads (Handler.maxBody).
const defaultMaxBodyBytes = int64(config.DefaultAuthMaxBodySize)

// Request is one authentication request, whatever endpoint it came through.
// Password must never be logged or echoed.
type Request struct {
	Username         string
	Password         string
	Protocol         string
	Method           string
	Service          string // nginx | header | json
	ClientIP         string
	ClientPort       string
	ClientHost       string
	ClientID         string
	LocalIP          string
	LocalPort        string
	AuthLoginAttempt int
	// NoAuth is ?mode=no-auth: no password check, only when_no_auth filters.
	NoAuth bool
	// ListAccounts is ?mode=list-accounts (Dovecot's auth_userdb_iterate):
	// no user, no password; the answer lists the known accounts.
	ListAccounts bool
	// NoCache is ?cache=0 or ?in-memory=0: bypass the positive cache.
	NoCache bool
	SSL     map[string]string

	// body is the request body as the endpoint read it (json), for Lua's
	// nauthilus_http_request; http is that view, built when Lua runs.
	body []byte
	http *lua.HTTPExchange

	// snap is the health snapshot pinned for the whole request (serve): the
	// backend_login passdb, the filters and the selection read one round.
	snap *health.Snapshot
	// luaContext is the request's nauthilus_context store, shared by the
	// Lua password script and the filters (made on first use; a request is
	// handled on one goroutine).
	luaContext *lua.RequestContext
}

// requestError is a request backline refuses before any password check.
// Most are malformed (answerInvalid: the endpoint's refusal with the
// reason); credentials marks a well-formed request whose user name or
// password cannot log in (empty, line breaks, oversized): the end user
// typed it, so it is answered as a failed login (answerRefusedCredentials).
type requestError struct {
	msg         string
	credentials bool
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

// badCredentials is a refused user name or password (see requestError).
func badCredentials(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...), credentials: true}
}

// refusedCredentials reports whether err is a badCredentials refusal.
func refusedCredentials(err error) bool {
	var re *requestError
	return errors.As(err, &re) && re.credentials
}

// parseHeaderRequest reads the Nauthilus/nginx request headers (contract
// §3.1). Every value is %XX-decoded; '+' stays '+'.
func parseHeaderRequest(r *http.Request, service string) (*Request, error) {
	return parseHeaderRequestWith(r, service, defaultHeaders)
}

// parseHeaderRequestWith reads the request with the configured names.
func parseHeaderRequestWith(r *http.Request, service string, names *requestHeaderSet) (*Request, error) {
	get := func(hn headerName) (string, error) {
		v, err := percentDecode(hn.get(r.Header))
		if err != nil {
			return "", badRequest("header %s: %v", hn.name, err)
		}
		return v, nil
	}
	if err := checkSingleValued(names, r.Header, requestQuery(r)); err != nil {
		return nil, err
	}
	req := &Request{Service: service}
	fields := [...]*string{
		&req.Username, &req.Password, &req.Protocol, &req.Method, &req.ClientIP,
		&req.ClientPort, &req.ClientID, &req.LocalIP, &req.LocalPort,
	}
	for i, dst := range fields {
		v, err := get(names.fields[i])
		if err != nil {
			return nil, err
		}
		*dst = v
	}
	if req.Protocol == "" {
		svc, err := get(names.service)
		if err != nil {
			return nil, err
		}
		req.Protocol = protocolFromService(svc)
	}
	if names.clientHost.key != "" {
		host, err := get(names.clientHost)
		if err != nil {
			return nil, err
		}
		req.ClientHost = host
	}
	attempt, err := get(names.loginAttempt)
	if err != nil {
		return nil, err
	}
	if req.AuthLoginAttempt, err = parseAttempt(attempt); err != nil {
		return nil, err
	}
	if names.passwordEncoded.get(r.Header) == "1" {
		pw, err := decodeBase64URL(req.Password)
		if err != nil {
			return nil, badRequest("header %s: %s is 1 but the value is not base64url", names.password().name, names.passwordEncoded.name)
		}
		req.Password = pw
	}
	for _, sh := range names.ssl {
		if sh.get(r.Header) != "" {
			dv, err := get(sh.headerName)
			if err != nil {
				return nil, err
			}
			if req.SSL == nil {
				req.SSL = map[string]string{}
			}
			req.SSL[sh.field] = dv
		}
	}
	// The password must not travel further with the request (handlers that
	// dump headers, Lua's header access).
	delete(r.Header, names.password().key)
	if err := applyQuery(r, req); err != nil {
		return nil, err
	}
	if req.ListAccounts && service == "nginx" {
		return nil, badRequest("mode list-accounts is answered by the header and json endpoints, not nginx")
	}
	return req, validate(req)
}

// jsonRequest is the JSON body, with Nauthilus's field names.
type jsonRequest struct {
	Username         string          `json:"username"`
	Password         string          `json:"password"`
	ClientIP         string          `json:"client_ip"`
	ClientPort       portField       `json:"client_port"`
	ClientHostname   string          `json:"client_hostname"`
	ClientID         string          `json:"client_id"`
	LocalIP          string          `json:"local_ip"`
	LocalPort        portField       `json:"local_port"`
	Service          string          `json:"service"`
	Method           string          `json:"method"`
	AuthLoginAttempt json.RawMessage `json:"auth_login_attempt"`
	Protocol         string          `json:"protocol"`
	SSL              string          `json:"ssl"`
	SSLProtocol      string          `json:"ssl_protocol"`
	SSLCipher        string          `json:"ssl_cipher"`
	SSLClientVerify  string          `json:"ssl_client_verify"`
	SSLFingerprint   string          `json:"ssl_fingerprint"`
	SSLSerial        string          `json:"ssl_serial"`
}

// parseJSONRequest reads the JSON endpoint's body (GET or POST) of at most
// limit bytes (auth.request.max_body_size).
func parseJSONRequest(w http.ResponseWriter, r *http.Request, limit int64) (*Request, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, badRequest("request body larger than %d bytes (auth.request.max_body_size)", limit)
		}
		return nil, badRequest("reading request body: %v", err)
	}
	// Dovecot's auth_userdb_iterate asks for the list with a bodiless GET.
	if len(bytes.TrimSpace(body)) == 0 {
		if mode, err := parseMode(requestQuery(r)); err == nil && mode == modeListAccounts {
			if err := checkSingleValued(defaultHeaders, nil, requestQuery(r)); err != nil {
				return nil, err
			}
			return &Request{Service: "json", ListAccounts: true}, nil
		}
	}
	var in jsonRequest
	// Unknown fields are ignored: Nauthilus clients send more than we use.
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&in); err != nil {
		return nil, jsonBodyError(err)
	}
	if dec.More() {
		return nil, badRequest("invalid JSON body: more than one JSON value")
	}
	if key := duplicateJSONKey(body); key != "" {
		return nil, badRequest("invalid JSON body: key %q is sent more than once", key)
	}
	if err := checkSingleValued(defaultHeaders, nil, requestQuery(r)); err != nil {
		return nil, err
	}
	protocol := in.Protocol
	if protocol == "" {
		protocol = protocolFromService(in.Service)
	}
	req := &Request{
		Service:    "json",
		Username:   in.Username,
		Password:   in.Password,
		Protocol:   protocol,
		Method:     in.Method,
		ClientIP:   in.ClientIP,
		ClientPort: string(in.ClientPort),
		ClientHost: in.ClientHostname,
		ClientID:   in.ClientID,
		LocalIP:    in.LocalIP,
		LocalPort:  string(in.LocalPort),
		body:       body,
	}
	if len(in.AuthLoginAttempt) > 0 {
		// Accept both 3 and "3": clients differ.
		s := strings.Trim(string(in.AuthLoginAttempt), `"`)
		if req.AuthLoginAttempt, err = parseAttempt(s); err != nil {
			return nil, err
		}
	}
	for key, v := range map[string]string{
		"ssl": in.SSL, "ssl_protocol": in.SSLProtocol, "ssl_cipher": in.SSLCipher,
		"ssl_client_verify": in.SSLClientVerify, "ssl_fingerprint": in.SSLFingerprint, "ssl_serial": in.SSLSerial,
	} {
		if v != "" {
			if req.SSL == nil {
				req.SSL = map[string]string{}
			}
			req.SSL[key] = v
		}
	}
	if err := applyQuery(r, req); err != nil {
		return nil, err
	}
	return req, validate(req)
}

// protocolFromService is the protocol a client that sends only its
// service means: Nauthilus up to 1.9, and the Dovecot Lua passdb of its
// docs, send Dovecot's service name ("imap", "pop3", "lmtp"...) as
// `service` and no `protocol`. Dovecot's names are lower-case already;
// other clients' are folded.
func protocolFromService(service string) string {
	return strings.ToLower(strings.TrimSpace(service))
}

func applyQuery(r *http.Request, req *Request) error {
	mode, err := parseMode(requestQuery(r))
	if err != nil {
		return err
	}
	q := requestQuery(r)
	switch mode {
	case modeNoAuth:
		req.NoAuth = true
	case modeListAccounts:
		req.ListAccounts = true
	}
	req.NoCache = q.Get("cache") == "0" || q.Get("in-memory") == "0"
	return nil
}

func parseAttempt(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badRequest("login attempt %s is not a non-negative number", quoteValue(s))
	}
	return n, nil
}

// validate refuses what Nauthilus refuses, an empty user or password
// outside no-auth mode, and in every mode credentials that could break a
// protocol line (checkCredentials). The reason is sent as text (Nauthilus
// sends an empty body) so an operator sees what was missing.
func validate(req *Request) error {
	if err := checkFieldSizes(req); err != nil {
		return err
	}
	if err := checkCredentials(req); err != nil {
		return err
	}
	if req.NoAuth || req.ListAccounts {
		return nil
	}
	if req.Username == "" {
		return badCredentials("empty username")
	}
	if req.Password == "" {
		return badCredentials("empty password")
	}
	return nil
}

// percentDecode undoes nginx's escaping: only %XX with two hex digits is an
// escape; '+' is a plus, not a space. A '%' not followed by two hex digits is
// an error, so that a mangled password is refused rather than guessed.
func percentDecode(s string) (string, error) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, nil
	}
	out := make([]byte, 0, len(s))
	out = append(out, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			out = append(out, c)
			continue
		}
		if i+2 >= len(s) || !textutil.IsHexDigit(s[i+1]) || !textutil.IsHexDigit(s[i+2]) {
			return "", errors.New("invalid %-escape (need % followed by two hex digits)")
		}
		out = append(out, textutil.HexDigitValue(s[i+1])<<4|textutil.HexDigitValue(s[i+2]))
		i += 2
	}
	return string(out), nil
}

// decodeBase64URL accepts base64url with or without padding.
func decodeBase64URL(s string) (string, error) {
	s = strings.TrimRight(s, "=")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
