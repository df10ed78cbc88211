package config

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// ListenerTLS is server.tls and gateway.tls: the listener terminates TLS
// itself. Left out (nil), the listener speaks plain HTTP as before.
//
// Everything in it is read again on each reload (a renewed certificate
// needs no restart); whether the block is there at all is fixed at start,
// since the listener is opened once.
type ListenerTLS struct {
	CertFile string `yaml:"cert_file"` // PEM: leaf first, then intermediates
	KeyFile  string `yaml:"key_file"`  // PEM private key, unencrypted
	// MinVersion is the lowest TLS version offered: "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version"`
	// ClientCAFile, when set, makes the listener require a client
	// certificate issued by one of its CAs (mutual TLS).
	ClientCAFile string `yaml:"client_ca_file"`
	// HTTP2 offers h2 through ALPN (default true).
	HTTP2 *bool `yaml:"http2"`

	// loaded is what validation read from the files, so serve and a
	// reload use exactly what was checked.
	loaded *tls.Config
	// absentKeyLeaf is, under check --no-secrets with the key missing, the
	// certificate that is here, kept for the expiry warning.
	absentKeyLeaf *x509.Certificate
}

// ServerConfig returns the settings validation loaded, or loads them now
// (a Config that was not validated, tests).
func (t *ListenerTLS) ServerConfig() (*tls.Config, error) {
	if t.loaded != nil {
		return t.loaded, nil
	}
	return t.LoadServerConfig(time.Now())
}

// TLS versions min_version accepts.
const (
	TLSVersion12 = "1.2"
	TLSVersion13 = "1.3"
)

// HTTP2Enabled is http2 with its default.
func (t *ListenerTLS) HTTP2Enabled() bool { return t.HTTP2 == nil || *t.HTTP2 }

// tlsVersion maps min_version to crypto/tls's constant; 0 for a value it
// does not accept. "TLS1.2" (Nauthilus's spelling) is taken too.
func tlsVersion(s string) uint16 {
	switch normalizeWord(s) {
	case "", TLSVersion12, "tls1.2":
		return tls.VersionTLS12
	case TLSVersion13, "tls1.3":
		return tls.VersionTLS13
	}
	return 0
}

// LoadServerConfig reads the files of t and returns the listener's TLS
// settings. Every problem is reported, not just the first (an operator
// fixing the block sees them all at once): the error joins one *TLSError a
// problem (errors.Join; TLSErrors splits it), each naming its key
// (cert_file, key_file, min_version, client_ca_file) and never quoting the
// files' content. now is the time a certificate must be valid at.
func (t *ListenerTLS) LoadServerConfig(now time.Time) (*tls.Config, error) {
	cert, errs := loadCertificatePair("cert_file", t.CertFile, "key_file", t.KeyFile, now)
	version := tlsVersion(t.MinVersion)
	if version == 0 {
		errs = append(errs, &TLSError{"min_version", fmt.Errorf("must be %s or %s, got %q", TLSVersion12, TLSVersion13, t.MinVersion)})
	}
	var clientCAs *x509.CertPool
	if t.ClientCAFile != "" {
		cas, err := readCertificateFile("client_ca_file", t.ClientCAFile)
		if err != nil {
			errs = append(errs, err)
		} else {
			clientCAs = x509.NewCertPool()
			for _, c := range cas {
				clientCAs.AddCert(c)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{*cert},
		MinVersion:   version,
		NextProtos:   []string{"http/1.1"},
	}
	if t.HTTP2Enabled() {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	if clientCAs != nil {
		cfg.ClientCAs, cfg.ClientAuth = clientCAs, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// TLSErrors returns the problems an error of LoadServerConfig joins, or
// err alone; nil for nil.
func TLSErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// loadCertificatePair reads the certificate chain and its key, each even
// when the other fails, so both files' problems are reported; certAttr and
// keyAttr are the keys naming the files (cert_file and key_file for a
// listener). A key that does not match, or a leaf that has expired at now,
// is refused: at a reload the running certificate then stays in use. A zero
// now accepts an expired leaf (a client certificate: the server judges it).
func loadCertificatePair(certAttr, certFile, keyAttr, keyFile string, now time.Time) (*tls.Certificate, []error) {
	var errs []error
	var chain []*x509.Certificate
	if certFile == "" {
		errs = append(errs, &TLSError{certAttr, errors.New("is required")})
	} else if c, err := readCertificateFile(certAttr, certFile); err != nil {
		errs = append(errs, err)
	} else {
		chain = c
	}
	var signer crypto.Signer
	if keyFile == "" {
		errs = append(errs, &TLSError{keyAttr, errors.New("is required")})
	} else if key, err := readItem(keyAttr, "", keyFile); err != nil {
		errs = append(errs, err)
	} else if signer, err = key.privateKey(); err != nil {
		errs = append(errs, err)
	}
	if chain == nil {
		return nil, errs
	}
	leaf := chain[0]
	if !now.IsZero() && now.After(leaf.NotAfter) {
		errs = append(errs, &TLSError{certAttr, fmt.Errorf("certificate %q expired at %s", leaf.Subject.String(), leaf.NotAfter.UTC().Format(time.RFC3339))})
	}
	if signer == nil {
		return nil, errs
	}
	if pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		errs = append(errs, &TLSError{keyAttr, errors.New("does not match the public key of the first certificate in " + certAttr)})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	out := &tls.Certificate{PrivateKey: signer, Leaf: leaf}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}

// readCertificateFile reads the certificates of the file named at attr
// (cert_file, client_ca_file); at least one, or a *TLSError.
func readCertificateFile(attr, file string) ([]*x509.Certificate, error) {
	it, err := readItem(attr, "", file)
	if err != nil {
		return nil, err
	}
	return it.certificates()
}

// validateListenerTLS checks server.tls and gateway.tls by loading them as
// serve would, each problem at its key. Under --no-secrets a file missing
// here is a warning and the rest of the block is still checked.
func (v *validator) validateListenerTLS() {
	g := v.c.Gateway.TLS
	if g != nil && v.c.Gateway.Address == "" {
		v.add("gateway.tls", "needs gateway.address (the gateway's listener)")
	}
	for _, l := range []struct {
		path string
		t    *ListenerTLS
	}{{"server.tls", v.c.Server.TLS}, {"gateway.tls", g}} {
		if l.t == nil {
			// "tls:" with nothing under it (a lost indentation, say) would
			// silently serve plain HTTP.
			if _, written := v.c.Lines[l.path]; written {
				v.add(l.path, "is empty: set cert_file and key_file under it to serve TLS, or remove it to serve plain HTTP")
			}
			continue
		}
		switch tlsVersion(l.t.MinVersion) {
		case tls.VersionTLS12:
			l.t.MinVersion = TLSVersion12
		case tls.VersionTLS13:
			l.t.MinVersion = TLSVersion13
		}
		loaded, err := l.t.LoadServerConfig(time.Now())
		l.t.loaded = loaded
		// Every file is read even when another fails: under --no-secrets
		// a missing key still leaves the certificate and client CAs checked.
		for _, e := range TLSErrors(err) {
			v.listenerTLSError(l.path, e)
		}
		if err != nil && v.noSecrets && !hasTLSErrorAt(err, "cert_file") {
			l.t.absentKeyLeaf, _ = checkTLSHalf("cert", "", l.t.CertFile, false)
		}
	}
}

// listenerTLSError records err of the TLS block at path: a warning for a
// file absent under --no-secrets, else an error at the key it names.
func (v *validator) listenerTLSError(path string, err error) {
	var te *TLSError
	switch {
	case errors.As(err, &te) && v.noSecrets && absentHere(err):
		key := path + "." + te.Attr
		v.c.noSecretWarnings = append(v.c.noSecretWarnings, Error{Path: key, Line: v.c.Lines.Line(key),
			Msg: te.Err.Error() + " (--no-secrets: not checked)"})
	case errors.As(err, &te):
		v.add(path+"."+te.Attr, "%v", te.Err)
	default:
		v.add(path, "%v", err)
	}
}

// certExpiryWarning is how early Warnings mentions a listener certificate
// about to expire: long enough for a failed renewal to be noticed.
const certExpiryWarning = 21 * 24 * time.Hour

// ListenerTLSSummary describes what a TLS listener serves, for check; ""
// when t is nil.
func ListenerTLSSummary(t *ListenerTLS) string {
	if t == nil {
		return ""
	}
	opts := "TLS " + t.MinVersion + "+"
	if t.HTTP2Enabled() {
		opts += ", h2"
	}
	if t.ClientCAFile != "" {
		opts += ", client certificates required"
	}
	if t.loaded == nil || len(t.loaded.Certificates) == 0 {
		return "files not checked (" + opts + ")"
	}
	leaf := t.loaded.Certificates[0].Leaf
	return fmt.Sprintf("certificate %q valid until %s (%s)", leaf.Subject.String(), leaf.NotAfter.UTC().Format(time.RFC3339), opts)
}

// listenerTLSWarnings warns about a listener certificate that expires soon.
func (c *Config) listenerTLSWarnings(warn func(path, format string, args ...any)) {
	for _, l := range []struct {
		path string
		t    *ListenerTLS
	}{{"server.tls", c.Server.TLS}, {"gateway.tls", c.Gateway.TLS}} {
		if l.t == nil || (l.t.loaded == nil && l.t.absentKeyLeaf == nil) {
			continue
		}
		leaf := l.t.absentKeyLeaf
		if l.t.loaded != nil {
			leaf = l.t.loaded.Certificates[0].Leaf
		}
		if left := time.Until(leaf.NotAfter); left < certExpiryWarning {
			warn(l.path+".cert_file", "certificate %q expires at %s, in %d day(s); renew it and reload",
				leaf.Subject.String(), leaf.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24))
		}
	}
}
