package config

import (
	"crypto/x509"
	"fmt"
	"slices"
	"time"
)

// gatewayClientCertWarnings warns about a gateway backend's client
// certificate (tls.client_certificate, mutual TLS to its origins) that has
// expired or expires soon, or that is not meant for client authentication:
// an origin that asks for it refuses the gateway's connections then, and
// every request through the backend fails with a 502. The threshold is the one of the listeners' and the health checks'
// certificates. One warning per certificate file (or inline certificate),
// at the first backend naming it, with the number of backends sharing it.
// Refinements cannot set tls; inline backends and those a token is fetched
// through are looked at as definitions backends are.
func (c *Config) gatewayClientCertWarnings(warn func(path, format string, args ...any)) {
	type use struct {
		path string // key of the first backend's certificate
		n    int
		leaf *x509.Certificate
	}
	var order []*use
	uses := map[string]*use{}
	c.eachBackend(func(path string, b *Backend) {
		t := b.TLS
		if t == nil {
			return
		}
		leaf := warnedClientLeaf(t.clientLeaf, t.NoSecretsAbsent)
		if leaf == nil {
			return
		}
		attr := "client_certificate"
		id := "inline:" + string(leaf.Raw)
		if t.ClientCertificateFile != "" {
			attr, id = "client_certificate_file", "file:"+t.ClientCertificateFile
		}
		u := uses[id]
		if u == nil {
			u = &use{path: path + ".tls." + attr, leaf: leaf}
			uses[id] = u
			order = append(order, u)
		}
		u.n++
	})
	for _, u := range order {
		shared := ""
		if u.n > 1 {
			shared = fmt.Sprintf(" (%d backends use this certificate)", u.n)
		}
		leaf := u.leaf
		switch left := time.Until(leaf.NotAfter); {
		case left <= 0:
			warn(u.path, "client certificate %q expired at %s; origins that ask for it refuse the gateway's connections (502)%s",
				leaf.Subject.String(), leaf.NotAfter.UTC().Format(time.RFC3339), shared)
		case left < certExpiryWarning:
			warn(u.path, "client certificate %q expires at %s, in %d day(s); renew it and reload%s",
				leaf.Subject.String(), leaf.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24), shared)
		}
		if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
			warn(u.path, "certificate %q is not for client authentication (its extended key usage lacks clientAuth); origins that check it refuse the gateway's connections%s", leaf.Subject.String(), shared)
		}
	}
}
