package gateway

import (
	"crypto/tls"
	"crypto/x509"

	"github.com/backline/backline/internal/config"
)

// backendTLSConfig is the base TLS configuration of a backend's pools; the
// pools clone it and set the server name per destination. The material is
// parsed again here (it was checked at load) so a Backend built in code
// without Validate still gets its CA and client certificate.
func backendTLSConfig(b *config.Backend) (*tls.Config, error) {
	base := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: b.DisableCertificateValidation}
	t := b.TLS
	if t == nil {
		return base, nil
	}
	cas, err := t.LoadServerCAs()
	if err != nil {
		return nil, err
	}
	if len(cas) > 0 {
		// The CA is added to the system pool, not used instead of it (Couper).
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		for _, c := range cas {
			pool.AddCert(c)
		}
		base.RootCAs = pool
	}
	cert, err := t.LoadClientCertificate()
	if err != nil {
		return nil, err
	}
	if cert != nil {
		base.Certificates = []tls.Certificate{*cert}
	}
	return base, nil
}

// clientLeaf is the client certificate the pools present to origins, nil
// without one. tlsBase is not changed after newTransportSet.
func (s *transportSet) clientLeaf() *x509.Certificate {
	if s == nil || s.tlsBase == nil || len(s.tlsBase.Certificates) == 0 {
		return nil
	}
	return s.tlsBase.Certificates[0].Leaf
}
