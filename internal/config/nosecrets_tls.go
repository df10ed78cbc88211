package config

import "crypto/x509"

// NoSecretsAbsentTLS is what check --no-secrets found missing on this
// machine of the TLS files of a health-check target (Target.NoSecretsAbsent)
// or of a gateway backend's tls block (BackendTLS.NoSecretsAbsent); each
// missing file is a warning at its key and line. The keys stay as written
// (what serve refuses for what is written is still refused), and the loads
// and probes go without what is missing. Nil when nothing is missing, and
// always outside check --no-secrets.
type NoSecretsAbsentTLS struct {
	// CA: the CA file (tls_ca_file, server_ca_certificate_file) is
	// missing; the system roots stand in.
	CA bool
	// ClientPair: the client certificate or its key is missing; the
	// target's checks or the backend's connections go without a client
	// certificate.
	ClientPair bool
	// Leaf is the client certificate when it is here and only the key is
	// missing, for the expiry warnings.
	Leaf *x509.Certificate
}

// warnedClientLeaf is the client certificate the expiry warnings look at:
// the one validation loaded, else the one check --no-secrets read while
// its key is missing; nil for neither.
func warnedClientLeaf(loaded *x509.Certificate, absent *NoSecretsAbsentTLS) *x509.Certificate {
	if loaded == nil && absent != nil {
		return absent.Leaf
	}
	return loaded
}
