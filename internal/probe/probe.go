// Package probe checks one backend once: a connect phase (TCP, optional
// PROXY v2 preface, optional implicit TLS) and, for deep checks, a protocol
// phase (greeting, capabilities, STARTTLS, SASL login). It keeps no state;
// thresholds and scheduling live in package health.
package probe

import (
	"context"
	"crypto/tls"
	"time"
)

// TLSMode is the effective TLS mode of a target.
type TLSMode string

const (
	TLSPlain    TLSMode = "plain"
	TLSImplicit TLSMode = "implicit"
	TLSStartTLS TLSMode = "starttls"
)

// Phase names which part of a check ran.
type Phase string

const (
	PhaseConnect Phase = "connect"
	PhaseDeep    Phase = "deep"
)

// Reason classifies a failure for metrics and the status API.
type Reason string

const (
	ReasonNone     Reason = ""
	ReasonRefused  Reason = "connect_refused"
	ReasonTimeout  Reason = "timeout"
	ReasonDNS      Reason = "dns"
	ReasonConnect  Reason = "connect" // other dial errors (unreachable, reset)
	ReasonTLS      Reason = "tls"
	ReasonProxy    Reason = "proxy"
	ReasonProtocol Reason = "protocol"
	ReasonAuth     Reason = "auth"
	ReasonConfig   Reason = "config" // e.g. mechanism not advertised, plaintext refused
	// ReasonLocal: this host could not open a socket (out of descriptors,
	// buffers, memory or ephemeral ports). Says nothing about the backend.
	ReasonLocal Reason = "local_resource"
)

// Target is everything one check needs, resolved once at start-up so that a
// probe does no parsing or file reading.
type Target struct {
	Name     string
	Protocol string // imap pop3 lmtp smtp sieve http tcp
	Host     string
	Port     int

	TLSMode TLSMode
	// TLSConfig is used for implicit TLS and STARTTLS; built at start-up with
	// the CA pool, ServerName and InsecureSkipVerify already set.
	TLSConfig *tls.Config

	HAProxyV2 bool
	// HAProxyV2Proxy sends a PROXY command with the real address tuple
	// instead of the default LOCAL command.
	HAProxyV2Proxy bool
	// HAProxyV1 sends a PROXY protocol v1 "PROXY UNKNOWN" line, v1's form
	// for a connection the sender opens for itself, such as a health
	// check: the backend then uses the socket addresses.
	HAProxyV1 bool

	ConnectTimeout time.Duration
	TLSTimeout     time.Duration
	DeepTimeout    time.Duration

	DeepCheck bool
	// ConnectGreeting makes a connect-only check of a mail protocol read
	// the greeting (which must be positive) and say goodbye (LOGOUT or
	// QUIT) before it closes, within connect_timeout (+ tls_timeout);
	// false closes right after TCP, the PROXY header and implicit TLS
	// (connect_check: tcp). Deep checks always say goodbye.
	ConnectGreeting    bool
	Username           string
	Password           string
	Mechanism          string // auto | PLAIN | LOGIN | USERPASS | BASIC
	RequestURI         string
	AllowPlaintextAuth bool
	// HTTP is an http check's expectation and extra headers: a gateway's
	// beta_health, or a mail-side target's expected_status, expected_text
	// and headers. nil: status 200 only.
	HTTP *HTTPExpect
	// HeloName is what smtp and lmtp checks send with EHLO/LHLO; empty
	// means localhost.localdomain.
	HeloName string
	// TCPSteps is a tcp target's deep check (tcp.go).
	TCPSteps []TCPStep
	// Agent is the target's agent check (agent.go); nil: none.
	Agent *AgentCheck
}

// Address is host:port, with IPv6 literals bracketed.
func (t *Target) Address() string { return joinHostPort(t.Host, t.Port) }

// Step is one timed stage of a check, for the status API and `backline probe`.
type Step struct {
	Name     string        `json:"name"` // connect, proxy, tls, client_cert (connect-only, TLS 1.3), greeting, capabilities, starttls, auth, request, logout, send, expect (tcp)
	Duration time.Duration `json:"duration"`
}

// Result is the outcome of one check. Err and Transcript never contain a
// password or a SASL payload.
type Result struct {
	Phase    Phase
	OK       bool
	Reason   Reason
	Err      error
	Duration time.Duration
	Steps    []Step
	// Transcript holds the exchanged lines, prefixed "C: " and "S: ", with
	// credentials replaced by "<redacted>". Filled only when requested.
	Transcript []string
	// CertNotAfter is the expiry of the server's leaf certificate, if TLS ran.
	CertNotAfter time.Time
	// RemoteAddr is the address the connection reached (the resolved IP).
	RemoteAddr string
	// TLSVersion, TLSCipher, CertSubject and CertIssuer describe the last
	// TLS handshake (implicit TLS or STARTTLS); empty without TLS.
	TLSVersion, TLSCipher, CertSubject, CertIssuer string
	// Mechanism is the SASL mechanism the deep phase used, if any.
	Mechanism string
	// clientCertAsked: the server asked for a client certificate in a
	// handshake of this check (see handshakeConfig).
	clientCertAsked bool
	// verdictAt is when a check's verdict was made, before its goodbye
	// (connect-only with connect_check: greeting, and every deep check of
	// a mail protocol): Duration ends there (sendGoodbye). Zero when no
	// goodbye was due (tcp, http).
	verdictAt time.Time
	// FailedPhase is where a failed check stopped: PhaseConnect when the
	// connect phase (dial, PROXY header, implicit TLS) failed, even in a
	// deep check, else PhaseDeep. Empty when OK, or when a Checker does not
	// say: callers then treat a deep failure as a deep-phase one.
	FailedPhase Phase
	// DrainStatus is the status of an OK http check that answered one of
	// its DrainStatuses (HAProxy's disable-on-404): up, but asking for no
	// new traffic. 0 otherwise.
	DrainStatus int
}

// Options tune one check.
type Options struct {
	// Transcript asks for the redacted exchange in Result.Transcript.
	Transcript bool
}

// Checker runs checks; health, Lua and the CLI all call the same one.
type Checker interface {
	Check(ctx context.Context, t *Target, phase Phase, opts Options) Result
}

// HTTPExpect replaces the seed's HTTP rule (status 200 only) for gateway
// health checks (Couper's beta_health) and mail-side http targets with
// expected_status: any listed status passes, and the body must contain
// Text when it is set.
type HTTPExpect struct {
	Path     string
	Statuses []int // empty: 200..204 (Couper's default)
	Text     string
	Headers  map[string]string
	// HTTPS uses TLS for the request (the target's TLSConfig).
	HTTPS bool
	// Method, Body and DrainStatuses: see http_request.go. Method ""
	// is GET; Body is sent with Content-Length and never shown.
	Method        string
	Body          string
	DrainStatuses []int
}
