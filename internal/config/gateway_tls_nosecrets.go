package config

import "errors"

// dropAbsentTLSFiles is check --no-secrets for a backend's tls block, as
// for a target's tls_ca_file and tls_cert_file: a file missing or
// unreadable on this machine is a warning at its key and is dropped, so
// the gateway check builds does not read it again. The system roots stand
// in for a missing CA; without half of the client pair, the half that is
// here is still read (a broken one is an error at its key), and the
// backend goes without a client certificate.
func (v *gatewayValidator) dropAbsentTLSFiles(path string, t *BackendTLS, report func(error)) {
	absent := func(attr, file string) bool {
		if file == "" {
			return false
		}
		_, err := readItem(attr, "", file)
		var te *TLSError
		if err == nil || !absentHere(err) || !errors.As(err, &te) {
			return false // read again by the load, which reports it
		}
		key := path + "." + attr
		v.c.noSecretWarnings = append(v.c.noSecretWarnings, Error{Path: key, Line: v.c.Lines.Line(key),
			Msg: te.Err.Error() + " (--no-secrets: checked without it)"})
		return true
	}
	if absent("server_ca_certificate_file", t.ServerCACertificateFile) {
		t.ServerCACertificateFile = ""
	}
	certGone := absent("client_certificate_file", t.ClientCertificateFile)
	keyGone := absent("client_private_key_file", t.ClientPrivateKeyFile)
	if !certGone && !keyGone {
		return
	}
	if !certGone {
		if err := checkTLSHalf("client_certificate", t.ClientCertificate, t.ClientCertificateFile, false); err != nil {
			report(err)
		}
	}
	if !keyGone {
		if err := checkTLSHalf("client_private_key", t.ClientPrivateKey, t.ClientPrivateKeyFile, true); err != nil {
			report(err)
		}
	}
	t.ClientCertificate, t.ClientCertificateFile = "", ""
	t.ClientPrivateKey, t.ClientPrivateKeyFile = "", ""
}

// checkTLSHalf reads one half of the client pair on its own: certificates,
// or the private key.
func checkTLSHalf(name, value, file string, key bool) error {
	attr, err := pick(name, value, file)
	if attr == "" {
		return err
	}
	it, err := readItem(attr, value, file)
	if err != nil {
		return err
	}
	if key {
		_, err = it.privateKey()
	} else {
		_, err = it.certificates()
	}
	return err
}
