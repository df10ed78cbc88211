package auth

import (
	"net/http"
	"net/textproto"
	"net/url"
	"sort"

	"github.com/backline/backline/internal/config"
)

// Request headers are read by their canonical names, found once here.
// http.Header.Get canonicalises the name on every call, and names such as
// "X-Client-ID" or "Auth-SSL" are not canonical, so each lookup allocated:
// 20 allocations per nginx request, the most of any single place.

// headerName is a header as written in docs and errors, and its map key.
type headerName struct{ name, key string }

func canonical(names ...string) []headerName {
	out := make([]headerName, len(names))
	for i, n := range names {
		out[i] = headerName{name: n, key: textproto.CanonicalMIMEHeaderKey(n)}
	}
	return out
}

// sslHeaderField is a TLS header and the request's ssl_* name it fills.
type sslHeaderField struct {
	headerName
	field string
}

// requestHeaderSet is the names the header and nginx endpoints read
// (auth.request.headers, defaults as nginx sends them).
type requestHeaderSet struct {
	// fields feed, in order, the string fields parseHeaderRequest fills
	// (Username, Password, Protocol, Method, ClientIP, ClientPort,
	// ClientID, LocalIP, LocalPort).
	fields          [9]headerName
	loginAttempt    headerName
	passwordEncoded headerName
	// service stands in for a missing protocol (protocolFromService).
	service headerName
	// clientHost is read only when configured (key "" otherwise).
	clientHost headerName
	ssl        []sslHeaderField
	// single are the headers read as one value (checkSingleValued).
	single []headerName
}

func newRequestHeaderSet(cfg config.RequestHeaders) *requestHeaderSet {
	h := cfg.Effective()
	s := &requestHeaderSet{}
	copy(s.fields[:], canonical(h.Username, h.Password, h.Protocol, h.AuthMethod, h.ClientIP,
		h.ClientPort, h.ClientID, h.LocalIP, h.LocalPort))
	s.loginAttempt = canonical(h.LoginAttempt)[0]
	s.passwordEncoded = canonical(h.PasswordEncoded)[0]
	s.service = canonical(h.Service)[0]
	if h.ClientHost != "" {
		s.clientHost = canonical(h.ClientHost)[0]
	}
	ssl := map[string]string{
		h.SSL: "ssl", h.SSLProtocol: "ssl_protocol", h.SSLCipher: "ssl_cipher", h.SSLVerify: "ssl_client_verify",
		h.SSLSubject: "ssl_client_dn", h.SSLIssuer: "ssl_issuer", h.SSLSerial: "ssl_serial", h.SSLFingerprint: "ssl_fingerprint",
	}
	names := make([]string, 0, len(ssl))
	for n := range ssl {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, hn := range canonical(names...) {
		s.ssl = append(s.ssl, sslHeaderField{headerName: hn, field: ssl[hn.name]})
	}
	s.single = append(s.single, s.fields[:]...)
	s.single = append(s.single, s.loginAttempt, s.passwordEncoded, s.service)
	if s.clientHost.key != "" {
		s.single = append(s.single, s.clientHost)
	}
	s.single = append(s.single, headerNames(s.ssl)...)
	return s
}

func headerNames(ssl []sslHeaderField) []headerName {
	out := make([]headerName, len(ssl))
	for i, s := range ssl {
		out[i] = s.headerName
	}
	return out
}

// password is the password header's name.
func (s *requestHeaderSet) password() headerName { return s.fields[1] }

// protocol is the protocol header's name.
func (s *requestHeaderSet) protocol() headerName { return s.fields[2] }

// defaultHeaders is the set without configuration (tests, the json
// endpoint's query checks).
var defaultHeaders = newRequestHeaderSet(config.RequestHeaders{})

// get is Header.Get for a canonical key.
func (n headerName) get(h http.Header) string {
	if v := h[n.key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// count is len(Header.Values) for a canonical key.
func (n headerName) count(h http.Header) int { return len(h[n.key]) }

// requestQuery is r.URL.Query(), or nil (read as empty) without a query,
// as nginx sends it.
func requestQuery(r *http.Request) url.Values {
	if r.URL.RawQuery == "" {
		return nil
	}
	return r.URL.Query()
}
