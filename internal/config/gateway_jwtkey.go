package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// SigningKey parses the key of a jwt_signing_profile for alg: a PEM
// private key (PKCS#1 RSA, SEC 1 EC or PKCS#8) for RS* and ES*, which must
// fit the algorithm (an EC key on the curve ES* names). HS* keys are bytes
// and not parsed. Errors never quote the key.
func SigningKey(alg string, keyPEM []byte) (any, error) {
	if strings.HasPrefix(alg, "HS") {
		if len(keyPEM) == 0 {
			return nil, errors.New("an HMAC key is empty")
		}
		return keyPEM, nil
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("the key is not PEM")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q (want a private key)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("the key cannot be parsed: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if !strings.HasPrefix(alg, "RS") {
			return nil, fmt.Errorf("%s needs an EC key, the key is RSA", alg)
		}
	case *ecdsa.PrivateKey:
		if !strings.HasPrefix(alg, "ES") {
			return nil, fmt.Errorf("%s needs an RSA key, the key is EC", alg)
		}
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		if want == nil || k.Curve != want {
			name := "?"
			if want != nil {
				name = want.Params().Name
			}
			return nil, fmt.Errorf("%s needs an EC key on %s", alg, name)
		}
	default:
		return nil, fmt.Errorf("%s: unsupported key type %T", alg, key)
	}
	return key, nil
}

// checkSigningKey reads key_file (into KeyData) and parses the key at load,
// so `backline check` finds a bad one; under --no-secrets a missing file
// is a warning.
func (v *gatewayValidator) checkSigningKey(path string, p *JWTSigningProfile) {
	if !slices.Contains(signatureAlgorithms, p.SignatureAlgorithm) {
		return // reported already
	}
	keyPath := path + ".key"
	switch {
	case p.KeyFile != "":
		keyPath = path + ".key_file"
		data, err := ReadSecretFile(p.KeyFile)
		if err != nil {
			if v.c.noSecrets && absentHere(err) {
				v.c.noSecretWarnings = append(v.c.noSecretWarnings, Error{Path: keyPath, Line: v.c.Lines.Line(keyPath),
					Msg: err.Error() + " (--no-secrets: checked without it)"})
				return
			}
			v.add(keyPath, "%v", err)
			return
		}
		p.KeyData = []byte(data)
	case p.Key != "":
		p.KeyData = []byte(p.Key)
	default:
		return // client_secret_jwt: the secret is the key
	}
	if _, err := SigningKey(p.SignatureAlgorithm, p.KeyData); err != nil {
		v.add(keyPath, "%v", err)
	}
}
