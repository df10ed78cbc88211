package config

import "testing"

func TestAuthRequestHeaders(t *testing.T) {
	c := mustParse(t, "auth:\n  request:\n    headers:\n      username: X-Nauthilus-Username\n      password: X-Nauthilus-Password\n      client_host: Client-Host\n")
	eff := c.Auth.Request.Headers.Effective()
	if eff.Username != "X-Nauthilus-Username" || eff.Password != "X-Nauthilus-Password" || eff.Protocol != "Auth-Protocol" ||
		eff.ClientHost != "Client-Host" {
		t.Errorf("effective: %+v", eff)
	}
	if d := (RequestHeaders{}).Effective(); d.ClientHost != "" || d.Username != "Auth-User" {
		t.Errorf("defaults: %+v", d)
	}
	wantOnlyError(t, "auth:\n  request:\n    headers:\n      username: \"X-User\\r\\nX-Evil\"\n",
		`auth.request.headers.username (line 4): "X-User\r\nX-Evil" is not an HTTP header name (letters, digits and !#$%&'*+-.^_`+"`"+`|~ only)`)
	wantOnlyError(t, "auth:\n  request:\n    headers:\n      username: \"X User\"\n",
		`auth.request.headers.username (line 4): "X User" is not an HTTP header name (letters, digits and !#$%&'*+-.^_`+"`"+`|~ only)`)
	// Two keys, one header (case-insensitive; the default counts).
	wantOnlyError(t, "auth:\n  request:\n    headers:\n      password: auth-user\n",
		"auth.request.headers.password (line 4): header auth-user is the default of auth.request.headers.username; name that key too, or pick another header")
	// A written key whose name is a later key's default: reported where written.
	wantOnlyError(t, "auth:\n  request:\n    headers:\n      protocol: Auth-Service\n",
		"auth.request.headers.protocol (line 4): header Auth-Service is the default of auth.request.headers.service; name that key too, or pick another header")
	wantOnlyError(t, "auth:\n  request:\n    headers:\n      username: X-A\n      password: x-a\n",
		"auth.request.headers.password (line 5): header x-a is already read as auth.request.headers.username; each key needs its own header")
	// Swapping two names is fine.
	mustParse(t, "auth:\n  request:\n    headers:\n      username: Auth-Pass\n      password: Auth-User\n")
	wantOnlyError(t, "auth:\n  request:\n    headers:\n      usernme: X-A\n",
		"auth.request.headers.usernme (line 4): unknown key (known keys: auth_method, client_host, client_id, client_ip, client_port, "+
			"local_ip, local_port, login_attempt, password, password_encoded, protocol, service, ssl, ssl_cipher, ssl_fingerprint, "+
			"ssl_issuer, ssl_protocol, ssl_serial, ssl_subject, ssl_verify, username)")
}

func TestAuthRequestMaxBodySize(t *testing.T) {
	if got := mustParse(t, "auth:\n  request:\n    max_body_size: 1MiB\n").Auth.Request.EffectiveMaxBodySize(); got != 1<<20 {
		t.Errorf("1MiB: %d", got)
	}
	if got := mustParse(t, "auth: {}\n").Auth.Request.EffectiveMaxBodySize(); got != 64<<10 {
		t.Errorf("default: %d", got)
	}
	wantOnlyError(t, "auth:\n  request:\n    max_body_size: 2MiB\n",
		"auth.request.max_body_size (line 3): must be between 16KiB and 1MiB, got 2MiB")
	wantOnlyError(t, "auth:\n  request:\n    max_body_size: 1000\n",
		"auth.request.max_body_size (line 3): must be between 16KiB and 1MiB, got 1000B")
	wantOnlyError(t, "auth:\n  request:\n    max_body_size: lots\n",
		`auth.request.max_body_size (line 3): must be a size such as 65536, 64KiB, 64MiB or 1GiB, got "lots"`)
}
