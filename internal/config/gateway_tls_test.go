package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backline/backline/internal/testutil"
)

// tlsBackend puts body under definitions.backends.api.tls; its first line is
// line 6 and the tls key itself is line 5.
func tlsBackend(body string) string {
	return "definitions:\n  backends:\n    api:\n      origin: https://127.0.0.1:9\n      tls:\n" + indent(body, 8)
}

// block writes s as a YAML literal block for a key at indent 0 of body.
func block(s string) string {
	return "|\n" + indent(s, 2)
}

const tlsPath = "definitions.backends.api.tls."

func TestTLSValueAndFileAreExclusive(t *testing.T) {
	for _, name := range []string{"server_ca_certificate", "client_certificate", "client_private_key"} {
		t.Run(name, func(t *testing.T) {
			body := name + ": AAAA\n" + name + "_file: /nonexistent\n"
			switch name {
			case "client_certificate":
				body += "client_private_key: AAAA\n"
			case "client_private_key":
				body = "client_certificate: AAAA\n" + body
			}
			line := map[string]string{"client_private_key": "7"}[name]
			if line == "" {
				line = "6"
			}
			wantOnlyError(t, tlsBackend(body),
				tlsPath+name+" (line "+line+"): set either "+name+" or "+name+"_file, not both")
		})
	}
}

func TestTLSClientCertificateNeedsKey(t *testing.T) {
	cases := []struct{ body, want string }{
		{"client_certificate: AAAA\n", "client_private_key (line 5): tls: missing client private key (client_certificate is set)"},
		{"client_certificate_file: /nonexistent\n", "client_private_key_file (line 5): tls: missing client private key (client_certificate_file is set)"},
		{"client_private_key: AAAA\n", "client_certificate (line 5): tls: missing client certificate (client_private_key is set)"},
		{"client_private_key_file: /nonexistent\n", "client_certificate_file (line 5): tls: missing client certificate (client_private_key_file is set)"},
	}
	for _, c := range cases {
		wantOnlyError(t, tlsBackend(c.body), tlsPath+c.want)
	}
}

func TestTLSBadMaterial(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	writeFile(t, garbage, "not a certificate\n")
	badPEM := "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
	keyPEM, _, _ := newKey(t)
	cases := []struct{ name, body, want string }{
		{"bad PEM inline", "server_ca_certificate: " + block(badPEM),
			"server_ca_certificate (line 6): certificate 1 does not parse"},
		{"PEM without certificate", "server_ca_certificate: " + block("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n"),
			"server_ca_certificate (line 6): holds no PEM CERTIFICATE block"},
		{"not base64", "server_ca_certificate: /etc/ssl/ca.pem\n",
			"server_ca_certificate (line 6): is neither PEM text nor base64-encoded DER (for a path use server_ca_certificate_file)"},
		{"bad DER file", "server_ca_certificate_file: " + garbage + "\n",
			"server_ca_certificate_file (line 6): holds neither a PEM nor a DER certificate"},
		{"missing file", "server_ca_certificate_file: " + filepath.Join(dir, "none") + "\n",
			"server_ca_certificate_file (line 6): cannot read"},
		{"bad client key", "client_certificate: AAAA\nclient_private_key_file: " + garbage + "\n",
			"client_private_key_file (line 7): is not a PKCS #8, PKCS #1 or SEC 1 private key"},
		{"bad client certificate", "client_certificate: AAAA\nclient_private_key: " + block(keyPEM),
			"client_certificate (line 6): holds neither a PEM nor a DER certificate"},
		{"key as client certificate", "client_certificate: " + block(keyPEM) + "client_private_key: " + block(keyPEM),
			"client_certificate (line 6): holds no PEM CERTIFICATE block"},
		{"encrypted client key", "client_certificate: AAAA\nclient_private_key: " + block("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"),
			"client_private_key (line 7): encrypted private keys are not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := parseErrors(t, tlsBackend(c.body))
			if len(got) != 1 || !strings.HasPrefix(got[0], tlsPath+c.want) {
				t.Fatalf("errors %q, want one starting with %q", got, tlsPath+c.want)
			}
		})
	}
}

func TestTLSCAWithDisabledValidation(t *testing.T) {
	caFile := testutil.NewPKI(t).WriteCA(t, t.TempDir())
	for _, key := range []string{"server_ca_certificate", "server_ca_certificate_file"} {
		value := caFile
		if key == "server_ca_certificate" {
			value = block(readFile(t, caFile))
		}
		yml := "definitions:\n  backends:\n    api:\n      origin: https://127.0.0.1:9\n      disable_certificate_validation: true\n" +
			"      tls:\n" + indent(key+": "+value, 8)
		wantOnlyError(t, yml, tlsPath+key+" (line 7): configured 'disable_certificate_validation' along with '"+key+"' attribute")
	}
}

func TestTLSServerCAForms(t *testing.T) {
	dir := t.TempDir()
	caFile := testutil.NewPKI(t).WriteCA(t, dir)
	caPEM := readFile(t, caFile)
	b, _ := pem.Decode([]byte(caPEM))
	derFile := filepath.Join(dir, "ca.der")
	writeFile(t, derFile, string(b.Bytes))
	for name, body := range map[string]string{
		"PEM file":    "server_ca_certificate_file: " + caFile + "\n",
		"DER file":    "server_ca_certificate_file: " + derFile + "\n",
		"inline PEM":  "server_ca_certificate: " + block(caPEM),
		"inline DER":  "server_ca_certificate: " + base64.StdEncoding.EncodeToString(b.Bytes) + "\n",
		"PEM chatter": "server_ca_certificate: " + block("subject=CN = backline test CA\n"+caPEM),
	} {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, tlsBackend(body))
			cas, err := c.Definitions.Backends["api"].TLS.LoadServerCAs()
			if err != nil || len(cas) != 1 || cas[0].Subject.CommonName != "backline test CA" {
				t.Fatalf("cas = %v, err = %v", cas, err)
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// newKey returns a fresh PKCS #8 key as PEM, base64 DER and DER.
func newKey(t *testing.T) (pemText, b64 string, der []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err = x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), base64.StdEncoding.EncodeToString(der), der
}

// Inline keys are secrets: no message may quote them, decoded or not.
func TestTLSErrorsNeverContainTheKey(t *testing.T) {
	realPEM, realB64, der := newKey(t)
	secretPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte(uniqueSecret)}))
	secrets := []string{uniqueSecret, base64.StdEncoding.EncodeToString([]byte(uniqueSecret)), realB64[:40], realB64[60:100], string(der)}

	cases := map[string]string{
		"not base64":            "client_certificate: AAAA\nclient_private_key: " + uniqueSecret + "\n",
		"PEM not a key":         "client_certificate: AAAA\nclient_private_key: " + block(secretPEM),
		"key alone":             "client_private_key: " + uniqueSecret + "\n",
		"key twice":             "client_certificate: AAAA\nclient_private_key: " + uniqueSecret + "\nclient_private_key_file: /nonexistent\n",
		"key as list":           "client_certificate: AAAA\nclient_private_key: [" + uniqueSecret + "]\n",
		"real key, bad cert":    "client_certificate: AAAA\nclient_private_key: " + block(realPEM),
		"real key as cert":      "client_certificate: " + realB64 + "\nclient_private_key: " + realB64 + "\n",
		"real key PEM, no cert": "client_private_key: " + block(realPEM),
		"undecodable key":       "client_certificate_file: /nonexistent\nclient_private_key: " + block(strings.Replace(realPEM, "A", "!", 3)),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			for _, e := range parseErrors(t, tlsBackend(body)) {
				for _, s := range secrets {
					if strings.Contains(e, s) {
						t.Errorf("error reveals key material: %s", e)
					}
				}
			}
		})
	}
}
