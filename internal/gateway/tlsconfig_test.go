package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// pkiMaterial is newTestPKI's certificates and key in every accepted form.
type pkiMaterial struct {
	caPEM, certPEM, keyPEM   string // PEM text (the key as SEC 1)
	caDERFile, certDERFile   string
	keyDERFile               string // SEC 1 DER
	caB64, certB64           string
	keyPKCS8PEM, keyPKCS8B64 string
}

func newPKIMaterial(t *testing.T, p *testPKI) *pkiMaterial {
	t.Helper()
	read := func(path string) (string, []byte) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(data)
		return string(data), block.Bytes
	}
	writeDER := func(name string, der []byte) string {
		path := filepath.Join(p.dir, name)
		if err := os.WriteFile(path, der, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	m := &pkiMaterial{}
	var caDER, certDER, keyDER []byte
	m.caPEM, caDER = read(p.caFile)
	m.certPEM, certDER = read(p.clientCert)
	m.keyPEM, keyDER = read(p.clientKey)
	m.caDERFile, m.certDERFile, m.keyDERFile = writeDER("ca.der", caDER), writeDER("client.der", certDER), writeDER("client-key.der", keyDER)
	m.caB64, m.certB64 = base64.StdEncoding.EncodeToString(caDER), base64.StdEncoding.EncodeToString(certDER)
	key, err := x509.ParseECPrivateKey(keyDER)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	m.keyPKCS8PEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	m.keyPKCS8B64 = base64.StdEncoding.EncodeToString(pkcs8)
	return m
}

// yamlBlock writes s as a literal block scalar under a key at indent 8.
func yamlBlock(s string) string {
	return "|\n" + indentLines(s, "          ")
}

func indentLines(s, pad string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(pad + line + "\n")
	}
	return b.String()
}

func tlsBackendYAML(tlsBody string) string {
	return "definitions:\n  backends:\n    api:\n      origin: https://127.0.0.1:9\n      tls:\n" + tlsBody
}

func TestBackendTLSConfigAcceptsEveryEncoding(t *testing.T) {
	p := newTestPKI(t)
	m := newPKIMaterial(t, p)
	o := p.origin(t, false, true) // requires a client certificate from p's CA
	cases := map[string]string{
		"PEM files": "        server_ca_certificate_file: " + p.caFile + "\n" +
			"        client_certificate_file: " + p.clientCert + "\n" +
			"        client_private_key_file: " + p.clientKey + "\n",
		"DER files": "        server_ca_certificate_file: " + m.caDERFile + "\n" +
			"        client_certificate_file: " + m.certDERFile + "\n" +
			"        client_private_key_file: " + m.keyDERFile + "\n",
		"inline PEM": "        server_ca_certificate: " + yamlBlock(m.caPEM) +
			"        client_certificate: " + yamlBlock(m.certPEM) +
			"        client_private_key: " + yamlBlock(m.keyPKCS8PEM),
		"inline base64 DER": "        server_ca_certificate: " + m.caB64 + "\n" +
			"        client_certificate: " + yamlBlock(wrap(m.certB64, 64)) +
			"        client_private_key: " + m.keyPKCS8B64 + "\n",
		"mixed": "        server_ca_certificate: " + m.caB64 + "\n" +
			"        client_certificate_file: " + m.certDERFile + "\n" +
			"        client_private_key: " + yamlBlock(m.keyPEM),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := parseConfig(t, tlsBackendYAML(body))
			conf, err := backendTLSConfig(cfg.Definitions.Backends["api"])
			if err != nil {
				t.Fatal(err)
			}
			if conf.MinVersion != tls.VersionTLS12 || conf.InsecureSkipVerify || conf.RootCAs == nil || len(conf.Certificates) != 1 {
				t.Fatalf("config = %+v", conf)
			}
			if cn := conf.Certificates[0].Leaf.Subject.CommonName; cn != "gateway-client" {
				t.Fatalf("client certificate CN = %q", cn)
			}
			// A real mTLS handshake proves both the pool and the key pair.
			conf.ServerName = "localhost"
			tr := &http.Transport{TLSClientConfig: conf}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get(o.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), "gateway-client") {
				t.Fatalf("origin saw %q", body)
			}
		})
	}
}

func wrap(s string, width int) string {
	var b strings.Builder
	for len(s) > width {
		b.WriteString(s[:width] + "\n")
		s = s[width:]
	}
	return b.String() + s
}

func TestBackendTLSConfigWithoutTLSBlock(t *testing.T) {
	cfg := parseConfig(t, "definitions:\n  backends:\n    api:\n      origin: https://127.0.0.1:9\n      disable_certificate_validation: true\n")
	conf, err := backendTLSConfig(cfg.Definitions.Backends["api"])
	if err != nil {
		t.Fatal(err)
	}
	if conf.MinVersion != tls.VersionTLS12 || !conf.InsecureSkipVerify || conf.RootCAs != nil || conf.Certificates != nil {
		t.Fatalf("config = %+v", conf)
	}
}

// Validate is skipped for a Backend built in code; the error still names the key.
func TestBackendTLSConfigErrorNamesTheKey(t *testing.T) {
	b := &config.Backend{}
	b.TLS = &config.BackendTLS{ServerCACertificateFile: filepath.Join(t.TempDir(), "missing.pem")}
	if _, err := backendTLSConfig(b); err == nil || !strings.HasPrefix(err.Error(), "tls.server_ca_certificate_file: cannot read") {
		t.Fatalf("err = %v", err)
	}
}

func TestClientKeyMismatchNeverShowsTheKey(t *testing.T) {
	p := newTestPKI(t)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(other)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	keyB64 := base64.StdEncoding.EncodeToString(der)
	for name, key := range map[string]string{"PEM": yamlBlock(keyPEM), "base64 DER": keyB64 + "\n"} {
		t.Run(name, func(t *testing.T) {
			yml := tlsBackendYAML("        client_certificate_file: " + p.clientCert + "\n        client_private_key: " + key)
			_, err := config.Parse([]byte(yml))
			if err == nil {
				t.Fatal("a key that does not match the certificate was accepted")
			}
			msg := err.Error()
			want := "definitions.backends.api.tls.client_private_key (line 7): does not match the public key of client_certificate_file"
			if msg != want {
				t.Fatalf("err = %q, want %q", msg, want)
			}
			// The key's base64 in any chunk, and its raw bytes, stay out of the message.
			for _, chunk := range []string{keyB64[:40], keyB64[len(keyB64)-40:], string(der)} {
				if strings.Contains(msg, chunk) {
					t.Fatalf("error reveals the key: %s", msg)
				}
			}
		})
	}
}
