package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// verifyJWT checks a compact JWT's signature with key and returns its
// header and claims.
func verifyJWT(t *testing.T, jwt string, key any) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("base64 %q: %v", s, err)
		}
		return b
	}
	_ = json.Unmarshal(dec(parts[0]), &header)
	_ = json.Unmarshal(dec(parts[1]), &claims)
	sig := dec(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	ok := false
	switch k := key.(type) {
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(parts[0] + "." + parts[1]))
		ok = hmac.Equal(m.Sum(nil), sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil
	case *ecdsa.PublicKey:
		ok = len(sig) == 64 && ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	}
	if !ok {
		t.Fatalf("signature of %q does not verify", jwt)
	}
	return header, claims
}

func pemKey(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// indent puts every line of s under a YAML block scalar at depth n.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+pad)
}

// TestOAuth2JWTClientAssertions: private_key_jwt (RS256, ES256) and
// client_secret_jwt (HS256) send a signed client assertion the token
// endpoint can verify, with the RFC 7523 claims.
func TestOAuth2JWTClientAssertions(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, c := range []struct {
		name, block string
		verify      any
	}{
		{"private_key_jwt RS256", "        token_endpoint_auth_method: private_key_jwt\n        jwt_signing_profile:\n          signature_algorithm: RS256\n          ttl: 60s\n          headers:\n            kid: k1\n          key: |\n" + indent(pemKey(t, rsaKey), 12) + "\n", &rsaKey.PublicKey},
		{"private_key_jwt ES256", "        token_endpoint_auth_method: private_key_jwt\n        jwt_signing_profile:\n          signature_algorithm: ES256\n          ttl: 60s\n          headers:\n            kid: k1\n          key: |\n" + indent(pemKey(t, ecKey), 12) + "\n", &ecKey.PublicKey},
		{"client_secret_jwt HS256", "        client_secret: shared-secret\n        token_endpoint_auth_method: client_secret_jwt\n        jwt_signing_profile:\n          signature_algorithm: HS256\n          ttl: 60s\n          headers:\n            kid: k1\n", []byte("shared-secret")},
	} {
		t.Run(c.name, func(t *testing.T) {
			idp := newFakeServer(t, tokenJSON(""))
			o := newFakeServer(t, bearerOrigin())
			h := newHarness(t, oauthYAML(o.URL, "        grant_type: client_credentials\n        token_endpoint: "+idp.URL+"/t\n        client_id: cid\n"+c.block))
			if resp, body := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 {
				t.Fatalf("status %d body %s logs %s", resp.StatusCode, body, h.logs)
			}
			r := idp.requests()[0]
			form, _ := url.ParseQuery(r.Body)
			if form.Get("client_assertion_type") != clientAssertionType || form.Get("client_id") != "cid" ||
				form.Get("grant_type") != "client_credentials" || form.Has("client_secret") || r.Header.Get("Authorization") != "" {
				t.Fatalf("token request %q, Authorization %q", r.Body, r.Header.Get("Authorization"))
			}
			header, claims := verifyJWT(t, form.Get("client_assertion"), c.verify)
			if header["kid"] != "k1" || header["typ"] != "JWT" {
				t.Fatalf("header %v", header)
			}
			now := float64(time.Now().Unix())
			exp, _ := claims["exp"].(float64)
			if claims["iss"] != "cid" || claims["sub"] != "cid" || claims["aud"] != idp.URL+"/t" ||
				claims["jti"] == "" || exp < now+50 || exp > now+70 {
				t.Fatalf("claims %v", claims)
			}
		})
	}
}

// TestOAuth2JWTBearerSelfSigned: jwt-bearer without assertion signs one
// from the profile's claims, a new one per fetch.
func TestOAuth2JWTBearerSelfSigned(t *testing.T) {
	idp := newFakeServer(t, tokenJSON(`,"expires_in":0`))
	o := newFakeServer(t, bearerOrigin())
	h := newHarness(t, oauthYAML(o.URL, "        grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer\n        token_endpoint: "+idp.URL+"/t\n"+
		"        jwt_signing_profile:\n          signature_algorithm: HS256\n          key: k3y\n          ttl: 5m\n          claims:\n            iss: svc\n            aud: https://idp\n            scope: [a, b]\n"))
	for range 2 {
		if resp, body := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("status %d body %s logs %s", resp.StatusCode, body, h.logs)
		}
	}
	reqs := idp.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d fetches (expires_in 0 is not cached)", len(reqs))
	}
	var jtis []any
	for _, r := range reqs {
		form, _ := url.ParseQuery(r.Body)
		_, claims := verifyJWT(t, form.Get("assertion"), []byte("k3y"))
		if claims["iss"] != "svc" || claims["aud"] != "https://idp" || claims["sub"] != nil {
			t.Fatalf("claims %v", claims)
		}
		jtis = append(jtis, claims["jti"])
	}
	if jtis[0] == jtis[1] {
		t.Fatal("two assertions with one jti")
	}
}

func TestJWTSignerRefusesWrongKeys(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	for _, c := range []struct{ alg, key, want string }{
		{"ES256", pemKey(t, ecKey), "ES256 needs an EC key on P-256"},
		{"ES256", pemKey(t, rsaKey), "ES256 needs an EC key, the key is RSA"},
		{"RS256", pemKey(t, ecKey), "RS256 needs an RSA key, the key is EC"},
		{"RS256", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "unsupported PEM block"},
	} {
		yml := oauthYAML("http://127.0.0.1:9", "        grant_type: client_credentials\n        token_endpoint: http://127.0.0.1:9/t\n        client_id: cid\n        token_endpoint_auth_method: private_key_jwt\n"+
			"        jwt_signing_profile:\n          signature_algorithm: "+c.alg+"\n          ttl: 60s\n          key: |\n"+indent(c.key, 12)+"\n")
		wantLoadError(t, yml, c.want)
	}
}

// TestSigningKeyFile: key_file is read at load; a missing one is an error
// at its key path and line.
func TestSigningKeyFile(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	file := t.TempDir() + "/key.pem"
	if err := os.WriteFile(file, []byte(pemKey(t, ecKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	block := func(f string) string {
		return "        grant_type: client_credentials\n        token_endpoint: TOKEN/t\n        client_id: cid\n        token_endpoint_auth_method: private_key_jwt\n" +
			"        jwt_signing_profile:\n          signature_algorithm: ES256\n          ttl: 60s\n          key_file: " + f + "\n"
	}
	idp := newFakeServer(t, tokenJSON(""))
	o := newFakeServer(t, bearerOrigin())
	h := newHarness(t, oauthYAML(o.URL, strings.Replace(block(file), "TOKEN", idp.URL, 1)))
	if resp, body := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	form, _ := url.ParseQuery(idp.requests()[0].Body)
	verifyJWT(t, form.Get("client_assertion"), &ecKey.PublicKey)

	wantLoadError(t, oauthYAML(o.URL, strings.Replace(block(file+".missing"), "TOKEN", idp.URL, 1)),
		"oauth2.jwt_signing_profile.key_file (line 13)")
}
