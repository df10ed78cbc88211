package probe

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/backline/backline/internal/config"
)

// defaultTimeout stands in for a zero timeout so that a Target built by hand
// (Lua, tests) can never make a check wait forever.
const defaultTimeout = 5 * time.Second

// NewTarget converts a validated configuration target into a Target. It does
// all file reading (the CA bundle) here so that checks never touch the disk.
func NewTarget(ct *config.Target) (*Target, error) {
	if ct == nil {
		return nil, errors.New("probe: nil target")
	}
	t := &Target{
		Name:               ct.Name,
		Protocol:           strings.ToLower(ct.Protocol),
		Host:               ct.Host,
		Port:               ct.Port,
		TLSMode:            TLSMode(strings.ToLower(ct.TLSMode)),
		HAProxyV2:          ct.HAProxyV2,
		HAProxyV2Proxy:     strings.EqualFold(ct.HAProxyV2Command, "proxy"),
		ConnectTimeout:     ct.ConnectTimeout,
		TLSTimeout:         ct.TLSTimeout,
		DeepTimeout:        ct.DeepTimeout,
		DeepCheck:          ct.DeepCheck,
		Username:           ct.TestUsername,
		Password:           ct.TestPassword,
		Mechanism:          ct.AuthMechanism,
		RequestURI:         ct.RequestURI,
		AllowPlaintextAuth: ct.AllowPlaintextAuth,
		HeloName:           ct.HeloName,
		ConnectGreeting:    ct.ConnectCheck == config.ConnectCheckGreeting,
	}
	if t.Protocol == config.ProtoHTTP {
		statuses := ct.ExpectedStatus
		if len(statuses) == 0 {
			// An unvalidated target keeps the seed's rule; an empty list
			// here would mean beta_health's 200..204.
			statuses = config.DefaultTargetStatuses
		}
		t.HTTP = &HTTPExpect{
			Path: ct.RequestURI, Statuses: append([]int(nil), statuses...),
			Text: ct.ExpectedText, Headers: ct.Headers,
			Method: ct.RequestMethod, Body: ct.RequestBody,
			DrainStatuses: append([]int(nil), ct.DrainOnStatus...),
		}
	}
	if t.Protocol == config.ProtoTCP {
		steps, err := tcpSteps(ct.TCPSteps)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Address(), err)
		}
		t.TCPSteps = steps
	}
	if a := ct.Agent; a != nil {
		t.Agent = &AgentCheck{Host: a.Host, Port: a.Port, Interval: a.Interval, Timeout: a.Timeout, Send: a.Send}
	}
	if t.TLSMode == "" {
		t.TLSMode = TLSPlain
	}
	// Refused at start-up rather than at every check; the message names
	// the key, never the value.
	if hasLineBreak(t.Username) {
		return nil, fmt.Errorf("target %s: test_username: %w", t.Address(), ErrUnsafeValue)
	}
	if hasLineBreak(t.Password) {
		return nil, fmt.Errorf("target %s: test_password: %w", t.Address(), ErrUnsafeValue)
	}
	if hasLineBreak(t.HeloName) || strings.ContainsAny(t.HeloName, " \t") {
		return nil, fmt.Errorf("target %s: helo_name: %w", t.Address(), ErrUnsafeValue)
	}
	if _, ok := deepChecks[t.Protocol]; !ok {
		return nil, fmt.Errorf("target %s: unknown protocol %q", t.Address(), ct.Protocol)
	}
	switch t.TLSMode {
	case TLSPlain, TLSImplicit, TLSStartTLS:
	default:
		return nil, fmt.Errorf("target %s: unknown tls_mode %q", t.Address(), ct.TLSMode)
	}
	if (t.Protocol == config.ProtoHTTP || t.Protocol == config.ProtoTCP) && t.TLSMode == TLSStartTLS {
		return nil, fmt.Errorf("target %s: %s has no STARTTLS; use tls_mode: implicit", t.Address(), t.Protocol)
	}
	if t.Port < 1 || t.Port > 65535 {
		return nil, fmt.Errorf("target %s: port %d out of range 1..65535", t.Address(), t.Port)
	}
	caFile := ct.TLSCAFile
	if a := ct.NoSecretsAbsent; a != nil && a.CA {
		caFile = "" // check --no-secrets: missing here, warned about
	}
	cfg, err := BuildTLSConfig(t.Host, ct.TLSServerName, caFile, ct.TLSSkipVerify)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Address(), err)
	}
	cert, err := clientCertificate(ct)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Address(), err)
	}
	if t.TLSMode == TLSPlain {
		// No handshake ever presents it (Warnings says the keys are
		// ignored): the status must not list a client certificate.
		cert = nil
	}
	if cert != nil {
		// The one place the certificate is kept: each handshake presents
		// it through handshakeConfig (clientcert.go).
		cfg.Certificates = []tls.Certificate{*cert}
	}
	t.TLSConfig = cfg
	return t, nil
}

// clientCertificate is what validation loaded from tls_cert_file and
// tls_key_file, or, for a Target that was not validated (tests, tools),
// the files read now; nil without them.
func clientCertificate(ct *config.Target) (*tls.Certificate, error) {
	if c := ct.ClientCert; c != nil || (ct.TLSCertFile == "" && ct.TLSKeyFile == "") {
		return c, nil
	}
	if a := ct.NoSecretsAbsent; a != nil && a.ClientPair {
		return nil, nil // check --no-secrets: half missing here, warned about
	}
	if ct.TLSCertFile == "" || ct.TLSKeyFile == "" {
		return nil, errors.New("tls_cert_file and tls_key_file go together: set both or neither")
	}
	return config.LoadTargetClientCertificate(ct.TLSCertFile, ct.TLSKeyFile)
}

// BuildTLSConfig is the client TLS configuration of every check: TLS 1.2 or
// newer, the server name (explicit, else host without a trailing dot), the CA
// bundle in caFile (else the system roots). Verification is skipped only when
// the operator asked for it.
func BuildTLSConfig(host, serverName, caFile string, skipVerify bool) (*tls.Config, error) {
	if serverName == "" {
		serverName = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         serverName,
		InsecureSkipVerify: skipVerify, //nolint:gosec // operator opt-in (tls_skip_verify)
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca_file %s: no PEM certificate found", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// tlsConfig never returns nil, for targets built without NewTarget.
func (t *Target) tlsConfig() *tls.Config {
	if t.TLSConfig != nil {
		return t.TLSConfig
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, ServerName: strings.TrimSuffix(strings.Trim(t.Host, "[]"), ".")}
}

// implicitTLS tells whether the connect phase runs a TLS handshake.
func (t *Target) implicitTLS() bool {
	return t.TLSMode == TLSImplicit || (t.Protocol == config.ProtoHTTP && t.HTTP != nil && t.HTTP.HTTPS)
}

func orDefault(d time.Duration) time.Duration {
	if d <= 0 {
		return defaultTimeout
	}
	return d
}

// Secrets lists the values of t that must never be shown: the test
// password and the value of every tcp send step marked secret (as sent,
// without its line end, and each of its lines). For redaction only.
func (t *Target) Secrets() []string {
	var out []string
	if t.Password != "" {
		out = append(out, t.Password)
	}
	for _, st := range t.TCPSteps {
		if st.Secret {
			for _, v := range sendLineForms(string(st.Send)) {
				if v != "" && !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
		}
	}
	return out
}
