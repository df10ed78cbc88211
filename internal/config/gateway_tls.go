package config

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// BackendTLS is the tls block. Each item is written either inline (PEM text,
// or base64 DER when there is no PEM header) or as a _file (PEM or raw DER),
// never both.
type BackendTLS struct {
	ServerCACertificate     string `yaml:"server_ca_certificate"`
	ServerCACertificateFile string `yaml:"server_ca_certificate_file"`
	ClientCertificate       string `yaml:"client_certificate"`
	ClientCertificateFile   string `yaml:"client_certificate_file"`
	ClientPrivateKey        string `yaml:"client_private_key"`
	ClientPrivateKeyFile    string `yaml:"client_private_key_file"`

	// NoSecretsAbsent is set by check --no-secrets only, when a file is
	// missing on this machine (markAbsentTLSFiles): the loads go without
	// the CA or the client pair, after checking what is written. Nil
	// otherwise.
	NoSecretsAbsent *NoSecretsAbsentTLS `yaml:"-"`

	// clientLeaf is the client certificate validation loaded (nil: none or
	// not loaded), for Warnings; the key is not kept here.
	clientLeaf *x509.Certificate
}

// TLSError names the tls attribute a problem comes from. Its text never
// holds the material itself: inline keys are secrets and end up in tickets.
type TLSError struct {
	Attr string
	Err  error
}

func (e *TLSError) Error() string { return "tls." + e.Attr + ": " + e.Err.Error() }

func (e *TLSError) Unwrap() error { return e.Err }

// tlsItem is one certificate or key as written: inline or read from a file.
type tlsItem struct {
	attr string // the key that supplied it
	data []byte
	pem  bool
}

// pick returns the key written for an item, name or name_file, and "" for
// neither. Only what was written is checked here; nothing is read yet.
func pick(name, value, file string) (string, error) {
	switch {
	case value != "" && file != "":
		return "", &TLSError{name, fmt.Errorf("set either %s or %s_file, not both", name, name)}
	case value != "":
		return name, nil
	case file != "":
		return name + "_file", nil
	}
	return "", nil
}

// readItem loads the item attr names: the file, or the inline value.
func readItem(attr, value, file string) (*tlsItem, error) {
	if strings.HasSuffix(attr, "_file") {
		data, err := readFileLimited(file, MaxPEMFileSize)
		if err != nil {
			return nil, &TLSError{attr, err}
		}
		return &tlsItem{attr: attr, data: data, pem: looksPEM(data)}, nil
	}
	if looksPEM([]byte(value)) {
		return &tlsItem{attr: attr, data: []byte(value), pem: true}, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(value), ""))
	if err != nil || len(der) == 0 {
		// The decoder's message is dropped: it could quote the value.
		return nil, &TLSError{attr, fmt.Errorf("is neither PEM text nor base64-encoded DER (for a path use %s_file)", attr)}
	}
	return &tlsItem{attr: attr, data: der}, nil
}

func looksPEM(data []byte) bool { return bytes.Contains(data, []byte("-----BEGIN ")) }

// certificates returns every certificate of the item, leaf or CA first as written.
func (it *tlsItem) certificates() ([]*x509.Certificate, error) {
	if !it.pem {
		certs, err := x509.ParseCertificates(it.data)
		switch {
		case err != nil:
			return nil, &TLSError{it.attr, fmt.Errorf("holds neither a PEM nor a DER certificate: %v", err)}
		case len(certs) == 0:
			return nil, &TLSError{it.attr, errors.New("holds no certificate")}
		}
		return certs, nil
	}
	var certs []*x509.Certificate
	rest := it.data
	for {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, &TLSError{it.attr, fmt.Errorf("certificate %d does not parse: %v", len(certs)+1, err)}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, &TLSError{it.attr, errors.New("holds no PEM CERTIFICATE block")}
	}
	return certs, nil
}

// privateKey parses PKCS #8, PKCS #1 or SEC 1, as PEM or DER. The parser
// errors are not passed on, so no part of the key reaches a message.
func (it *tlsItem) privateKey() (crypto.Signer, error) {
	der := it.data
	if it.pem {
		der = nil
		rest := it.data
		for der == nil {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				return nil, &TLSError{it.attr, errors.New("holds no PEM PRIVATE KEY block")}
			}
			if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
				return nil, &TLSError{it.attr, errors.New("encrypted private keys are not supported")}
			}
			if strings.HasSuffix(block.Type, "PRIVATE KEY") {
				der = block.Bytes
			}
		}
	}
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(der); err != nil {
			key, err = x509.ParseECPrivateKey(der)
		}
	}
	if err != nil {
		return nil, &TLSError{it.attr, errors.New("is not a PKCS #8, PKCS #1 or SEC 1 private key")}
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, &TLSError{it.attr, fmt.Errorf("holds a %T, which cannot sign a TLS handshake", key)}
	}
	return signer, nil
}

// LoadServerCAs returns the certificates of server_ca_certificate(_file),
// nil when neither is written or (check --no-secrets) its file is missing
// here: the system roots stand in.
func (t *BackendTLS) LoadServerCAs() ([]*x509.Certificate, error) {
	attr, err := pick("server_ca_certificate", t.ServerCACertificate, t.ServerCACertificateFile)
	if attr == "" || (t.NoSecretsAbsent != nil && t.NoSecretsAbsent.CA) {
		return nil, err
	}
	it, err := readItem(attr, t.ServerCACertificate, t.ServerCACertificateFile)
	if err != nil {
		return nil, err
	}
	return it.certificates()
}

// LoadClientCertificate returns the client certificate with its key, nil
// when neither is written or (check --no-secrets) a file of the pair is
// missing here.
func (t *BackendTLS) LoadClientCertificate() (*tls.Certificate, error) {
	certAttr, err := pick("client_certificate", t.ClientCertificate, t.ClientCertificateFile)
	if err != nil {
		return nil, err
	}
	keyAttr, err := pick("client_private_key", t.ClientPrivateKey, t.ClientPrivateKeyFile)
	switch {
	case err != nil:
		return nil, err
	case certAttr == "" && keyAttr == "":
		return nil, nil
	case keyAttr == "":
		missing := "client_private_key" + strings.TrimPrefix(certAttr, "client_certificate")
		return nil, &TLSError{missing, fmt.Errorf("tls: missing client private key (%s is set)", certAttr)}
	case certAttr == "":
		missing := "client_certificate" + strings.TrimPrefix(keyAttr, "client_private_key")
		return nil, &TLSError{missing, fmt.Errorf("tls: missing client certificate (%s is set)", keyAttr)}
	case t.NoSecretsAbsent != nil && t.NoSecretsAbsent.ClientPair:
		return nil, nil
	}
	key, err := readItem(keyAttr, t.ClientPrivateKey, t.ClientPrivateKeyFile)
	if err != nil {
		return nil, err
	}
	signer, err := key.privateKey()
	if err != nil {
		return nil, err
	}
	cert, err := readItem(certAttr, t.ClientCertificate, t.ClientCertificateFile)
	if err != nil {
		return nil, err
	}
	chain, err := cert.certificates()
	if err != nil {
		return nil, err
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, &TLSError{keyAttr, fmt.Errorf("does not match the public key of %s", certAttr)}
	}
	out := &tls.Certificate{PrivateKey: signer, Leaf: chain[0]}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}

func (v *gatewayValidator) validateTLS(path string, b *Backend) {
	t := b.TLS
	report := func(err error) {
		var te *TLSError
		if errors.As(err, &te) {
			v.add(path+"."+te.Attr, "%v", te.Err)
		} else {
			v.add(path, "%v", err)
		}
	}
	if b.DisableCertificateValidation && (t.ServerCACertificate != "" || t.ServerCACertificateFile != "") {
		attr := "server_ca_certificate"
		if t.ServerCACertificateFile != "" {
			attr += "_file"
		}
		v.add(path+"."+attr, "configured 'disable_certificate_validation' along with '%s' attribute", attr)
	}
	t.clientLeaf, t.NoSecretsAbsent = nil, nil
	if v.c.noSecrets {
		v.markAbsentTLSFiles(path, t, report)
	}
	if _, err := t.LoadServerCAs(); err != nil {
		report(err)
	}
	cert, err := t.LoadClientCertificate()
	if err != nil {
		report(err)
		return
	}
	if cert != nil {
		t.clientLeaf = cert.Leaf
	}
}
