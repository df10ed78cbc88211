package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throw-away CA for tests that terminate TLS: certificates are
// made at test time, for 127.0.0.1 and localhost, and nothing is
// committed.
type PKI struct {
	CA    *x509.Certificate
	CAPEM []byte
	key   *ecdsa.PrivateKey
}

// NewPKI makes a CA valid from an hour ago for a day.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "backline test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &PKI{CA: ca, CAPEM: pemBlock("CERTIFICATE", der), key: key}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// Leaf is a certificate the CA issued, as PEM, with its PKCS #8 key.
type Leaf struct {
	CertPEM, KeyPEM []byte
	Cert            tls.Certificate
}

// Issue makes a leaf with the serial given, valid until notAfter (from an
// hour before now; a past notAfter makes an expired one): a server
// certificate, or a client certificate with client set. hosts are the
// names and addresses it is for; none means 127.0.0.1, ::1 and localhost
// for a server certificate (a client certificate needs none).
func (p *PKI) Issue(t testing.TB, cn string, serial int64, notAfter time.Time, client bool, hosts ...string) Leaf {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		if len(hosts) == 0 {
			hosts = []string{"localhost", "127.0.0.1", "::1"}
		}
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	l := Leaf{CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("PRIVATE KEY", kder)}
	if l.Cert, err = tls.X509KeyPair(l.CertPEM, l.KeyPEM); err != nil {
		t.Fatal(err)
	}
	return l
}

// SEC1KeyPEM is the key as "EC PRIVATE KEY" (SEC 1, what openssl ecparam
// writes) instead of PKCS #8: the other form of key operators configure.
func (l Leaf) SEC1KeyPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(l.Cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("EC PRIVATE KEY", der)
}

// Server issues a server certificate valid for a day.
func (p *PKI) Server(t testing.TB, serial int64) Leaf {
	return p.Issue(t, "localhost", serial, time.Now().Add(24*time.Hour), false)
}

// Write puts the leaf's certificate and key into dir (created files,
// key mode 0600) and returns their paths.
func (l Leaf) Write(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, l.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, l.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// WriteCA puts the CA certificate into dir and returns its path.
func (p *PKI) WriteCA(t testing.TB, dir string) string {
	t.Helper()
	f := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(f, p.CAPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// Pool holds the CA alone: RootCAs of a client, ClientCAs of a server.
func (p *PKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return pool
}

// ClientConfig trusts the CA; protos are the ALPN protocols offered.
func (p *PKI) ClientConfig(protos ...string) *tls.Config {
	return &tls.Config{RootCAs: p.Pool(), ServerName: "localhost", NextProtos: protos}
}
