package config

import (
	"crypto/x509"
	"errors"
)

// markAbsentTLSFiles is check --no-secrets for a backend's tls block, as
// for a target's tls_ca_file and tls_cert_file: a file missing or
// unreadable on this machine is a warning at its key, and the loads (the
// gateway check builds too) go without it: the system roots stand in for a
// missing CA; without half of the client pair, the half that is here is
// still read (a broken one is an error at its key, a certificate is kept
// for the expiry warnings), and the backend goes without a client
// certificate. The keys stay as written: what serve refuses for what is
// written (a value and its _file both set, half a pair) is still refused
// by the loads, and the warnings about the files that are here (a key open
// to other users) still name them.
func (v *gatewayValidator) markAbsentTLSFiles(path string, t *BackendTLS, report func(error)) {
	absent := func(name, value, file string) bool {
		attr, err := pick(name, value, file)
		if err != nil || attr != name+"_file" {
			return false // refused or read by the load
		}
		_, err = readItem(attr, "", file)
		var te *TLSError
		if err == nil || !absentHere(err) || !errors.As(err, &te) {
			return false // read again by the load, which reports it
		}
		key := path + "." + attr
		v.c.noSecretWarnings = append(v.c.noSecretWarnings, Error{Path: key, Line: v.c.Lines.Line(key),
			Msg: te.Err.Error() + " (--no-secrets: checked without it)"})
		return true
	}
	a := &NoSecretsAbsentTLS{CA: absent("server_ca_certificate", t.ServerCACertificate, t.ServerCACertificateFile)}
	certGone := absent("client_certificate", t.ClientCertificate, t.ClientCertificateFile)
	keyGone := absent("client_private_key", t.ClientPrivateKey, t.ClientPrivateKeyFile)
	a.ClientPair = certGone || keyGone
	if a.CA || a.ClientPair {
		t.NoSecretsAbsent = a
	}
	if !a.ClientPair {
		return
	}
	if !certGone {
		leaf, err := checkTLSHalf("client_certificate", t.ClientCertificate, t.ClientCertificateFile, false)
		if err != nil {
			report(err)
		}
		a.Leaf = leaf
	}
	if !keyGone {
		if _, err := checkTLSHalf("client_private_key", t.ClientPrivateKey, t.ClientPrivateKeyFile, true); err != nil {
			report(err)
		}
	}
}

// checkTLSHalf reads one half of the client pair on its own: certificates
// (the leaf is returned), or the private key. A half not written, or
// written twice, is left to LoadClientCertificate, which refuses it.
func checkTLSHalf(name, value, file string, key bool) (*x509.Certificate, error) {
	attr, err := pick(name, value, file)
	if attr == "" || err != nil {
		return nil, nil
	}
	it, err := readItem(attr, value, file)
	if err != nil {
		return nil, err
	}
	if key {
		_, err = it.privateKey()
		return nil, err
	}
	certs, err := it.certificates()
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}
