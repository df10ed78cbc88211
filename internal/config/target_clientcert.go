package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Target keys of the client certificate (mutual TLS on health checks).
// They follow tls_ca_file; the gateway's backend tls block has the same two
// files as client_certificate_file and client_private_key_file.
const (
	keyTLSCertFile = "tls_cert_file"
	keyTLSKeyFile  = "tls_key_file"
)

// LoadTargetClientCertificate reads a client certificate chain (leaf first)
// and its unencrypted private key, PEM or DER. Every problem is reported:
// the error joins one *TLSError a problem, each naming tls_cert_file or
// tls_key_file; no message quotes the key. An expired certificate is
// loaded: the server judges it, and Warnings says so.
func LoadTargetClientCertificate(certFile, keyFile string) (*tls.Certificate, error) {
	cert, errs := loadCertificatePair(keyTLSCertFile, certFile, keyTLSKeyFile, keyFile, time.Time{})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cert, nil
}

// absentTLS is t.NoSecretsAbsent, made on first use.
func (t *Target) absentTLS() *NoSecretsAbsentTLS {
	if t.NoSecretsAbsent == nil {
		t.NoSecretsAbsent = &NoSecretsAbsentTLS{}
	}
	return t.NoSecretsAbsent
}

// clientCertResult is one load of a certificate and key pair.
type clientCertResult struct {
	cert *tls.Certificate
	err  error
}

// validateClientCert checks that tls_cert_file and tls_key_file come
// together and loads them, once per pair of files in a load: a thousand
// targets sharing one certificate share one copy of its key. Under
// --no-secrets a missing file is a warning and the target goes without.
func (v *validator) validateClientCert(path string, t *Target) {
	key := func(k string) string { return path + "." + k }
	t.ClientCert = nil
	switch {
	case t.TLSCertFile == "" && t.TLSKeyFile == "":
		return
	case t.TLSKeyFile == "":
		v.add(key(keyTLSCertFile), "needs %s as well: a client certificate goes with its private key", keyTLSKeyFile)
		return
	case t.TLSCertFile == "":
		v.add(key(keyTLSKeyFile), "needs %s as well: a private key goes with its client certificate", keyTLSCertFile)
		return
	}
	pair := [2]string{t.TLSCertFile, t.TLSKeyFile}
	r, ok := v.clientCerts[pair]
	if !ok {
		r.cert, r.err = LoadTargetClientCertificate(t.TLSCertFile, t.TLSKeyFile)
		if v.clientCerts == nil {
			v.clientCerts = map[[2]string]clientCertResult{}
		}
		v.clientCerts[pair] = r
	}
	for _, e := range TLSErrors(r.err) {
		v.listenerTLSError(path, e)
	}
	if r.err != nil {
		// --no-secrets: checked without the missing file. The keys stay
		// as written, so the key that is here is still warned about
		// (secretFileWarnings) and the certificate that is here still
		// read for the expiry warnings.
		if v.noSecrets {
			a := t.absentTLS()
			a.ClientPair = true
			if !hasTLSErrorAt(r.err, keyTLSCertFile) {
				a.Leaf, _ = checkTLSHalf("tls_cert", "", t.TLSCertFile, false)
			}
		}
		return
	}
	t.ClientCert = r.cert
}

// ClientCertSummary describes a target's client certificate for check:
// subject, issuer and expiry, never anything of the key; "" without one.
func ClientCertSummary(t *Target) string {
	if t.ClientCert == nil {
		return ""
	}
	leaf := t.ClientCert.Leaf
	return fmt.Sprintf("client certificate %q issued by %q, valid until %s",
		leaf.Subject.String(), leaf.Issuer.String(), leaf.NotAfter.UTC().Format(time.RFC3339))
}

// clientCertWarnings warns about a client certificate that has expired or
// expires soon, or that is not meant for client authentication: servers
// refuse such a certificate, and every check of its targets fails. The
// warnings are per certificate file, at the first target naming it, with
// the number of targets sharing it: a thousand targets with one
// certificate make one warning each, not a thousand.
func (c *Config) clientCertWarnings(warn func(path, format string, args ...any)) {
	type use struct {
		first int // index of the first target naming the file
		n     int
		leaf  *x509.Certificate
	}
	var order []*use
	uses := map[any]*use{}
	for i, t := range c.Auth.Services.BackendHealthChecks.Targets {
		var loaded *x509.Certificate
		if t.ClientCert != nil {
			loaded = t.ClientCert.Leaf
		}
		leaf := warnedClientLeaf(loaded, t.NoSecretsAbsent)
		if leaf == nil {
			continue
		}
		var file any = t.TLSCertFile
		if t.TLSCertFile == "" { // set in code, not loaded from a file
			file = t.ClientCert
		}
		u := uses[file]
		if u == nil {
			u = &use{first: i, leaf: leaf}
			uses[file] = u
			order = append(order, u)
		}
		u.n++
	}
	for _, u := range order {
		path := fmt.Sprintf("%s.targets[%d].%s", healthChecksPath, u.first, keyTLSCertFile)
		shared := ""
		if u.n > 1 {
			shared = fmt.Sprintf(" (%d targets use this certificate file)", u.n)
		}
		leaf := u.leaf
		switch left := time.Until(leaf.NotAfter); {
		case left <= 0:
			warn(path, "client certificate %q expired at %s; servers that ask for it will refuse the checks%s", leaf.Subject.String(), leaf.NotAfter.UTC().Format(time.RFC3339), shared)
		case left < certExpiryWarning:
			warn(path, "client certificate %q expires at %s, in %d day(s); renew it and reload%s",
				leaf.Subject.String(), leaf.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24), shared)
		}
		if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
			warn(path, "certificate %q is not for client authentication (its extended key usage lacks clientAuth); servers that check it will refuse the checks%s", leaf.Subject.String(), shared)
		}
	}
}

// hasTLSErrorAt reports whether err (joined *TLSError, as loads return)
// has a problem at attr.
func hasTLSErrorAt(err error, attr string) bool {
	for _, e := range TLSErrors(err) {
		var te *TLSError
		if errors.As(e, &te) && te.Attr == attr {
			return true
		}
	}
	return false
}
