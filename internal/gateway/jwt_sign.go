package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/backline/backline/internal/config"
)

// jwtSigner signs the JWTs of an oauth2 block (RFC 7515 compact form)
// with the stdlib: HMAC, RSA PKCS#1 v1.5 or ECDSA with SHA-2.
type jwtSigner struct {
	alg    string
	hash   crypto.Hash
	hmac   []byte
	rsa    *rsa.PrivateKey
	ecdsa  *ecdsa.PrivateKey
	header []byte // encoded header, fixed at load
	claims map[string]any
	ttl    time.Duration
	now    func() time.Time
}

// newJWTSigner builds a signer from a profile; hmacKey is the key for HS*
// algorithms when the profile has none (client_secret_jwt).
func newJWTSigner(p *config.JWTSigningProfile, keyPEM, hmacKey []byte, claims, headers map[string]any) (*jwtSigner, error) {
	s := &jwtSigner{alg: p.SignatureAlgorithm, ttl: p.TTL, claims: claims, now: time.Now}
	switch s.alg[2:] {
	case "256":
		s.hash = crypto.SHA256
	case "384":
		s.hash = crypto.SHA384
	case "512":
		s.hash = crypto.SHA512
	default:
		return nil, fmt.Errorf("unsupported signature_algorithm %q", s.alg)
	}
	key, err := config.SigningKey(s.alg, keyPEM)
	if s.alg[:2] == "HS" && len(keyPEM) == 0 {
		key, err = config.SigningKey(s.alg, hmacKey)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case []byte:
		s.hmac = k
	case *rsa.PrivateKey:
		s.rsa = k
	case *ecdsa.PrivateKey:
		s.ecdsa = k
	}
	h := map[string]any{}
	for k, v := range headers {
		h[k] = v
	}
	if _, ok := h["typ"]; !ok {
		h["typ"] = "JWT"
	}
	h["alg"] = s.alg
	raw, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	s.header = []byte(base64.RawURLEncoding.EncodeToString(raw))
	return s, nil
}

// sign returns a JWT with the profile's claims, then extra, then exp, iat
// and jti (a random id, so no two assertions are alike).
func (s *jwtSigner) sign(extra map[string]any) (string, error) {
	now := s.now()
	claims := make(map[string]any, len(s.claims)+len(extra)+3)
	for k, v := range s.claims {
		claims[k] = v
	}
	for k, v := range extra {
		if _, set := claims[k]; !set {
			claims[k] = v
		}
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(s.ttl).Unix()
	claims["jti"] = hex.EncodeToString(id)
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Write(s.header)
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(payload))
	signed := b.String()
	sig, err := s.signature([]byte(signed))
	if err != nil {
		return "", err
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func (s *jwtSigner) newHash() hash.Hash {
	switch s.hash {
	case crypto.SHA384:
		return sha512.New384()
	case crypto.SHA512:
		return sha512.New()
	}
	return sha256.New()
}

func (s *jwtSigner) signature(data []byte) ([]byte, error) {
	if s.hmac != nil {
		m := hmac.New(s.newHash, s.hmac)
		m.Write(data)
		return m.Sum(nil), nil
	}
	h := s.newHash()
	h.Write(data)
	digest := h.Sum(nil)
	if s.rsa != nil {
		return rsa.SignPKCS1v15(rand.Reader, s.rsa, s.hash, digest)
	}
	r, ss, err := ecdsa.Sign(rand.Reader, s.ecdsa, digest)
	if err != nil {
		return nil, err
	}
	// RFC 7518 §3.4: R and S, each padded to the curve's size.
	size := (s.ecdsa.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	ss.FillBytes(out[size:])
	return out, nil
}
