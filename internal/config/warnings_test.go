package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWarnings(t *testing.T) {
	const p = "auth.services.backend_health_checks."
	tests := []struct {
		name string
		yml  string
		want []string
	}{
		{"none for a clean file", imapTarget("tls: true\nproxy_port: 143"), nil},
		{"none for an empty file", "", nil},
		{"targets without the service",
			"auth:\n  services:\n    backend_health_checks:\n      targets:\n        - {protocol: imap, host: \"::1\", port: 143}\n",
			[]string{p + "targets (line 4): 1 target(s) configured but backend_health_checks is not listed in auth.services.enabled; they will not be probed"}},
		{"service without targets", "auth:\n  services:\n    enabled: [backend_health_checks]\n",
			[]string{"auth.services.enabled (line 3): backend_health_checks is enabled but has no targets"}},
		{"open listener", "server:\n  address: 0.0.0.0:9080\n",
			[]string{"server.address (line 2): listens on 0.0.0.0:9080, beyond loopback, without server.api_auth: anyone who can reach it can read backend status"}},
		{"all interfaces", "server:\n  address: :9080\n",
			[]string{"server.address (line 2): listens on :9080, beyond loopback, without server.api_auth: anyone who can reach it can read backend status"}},
		{"open listener with auth", "server:\n  address: 0.0.0.0:9080\n  api_auth: {bearer_token: t}\n", nil},
		{"localhost listener", "server:\n  address: localhost:9080\n", nil},
		{"credentials without deep check", imapTarget("tls: true\ntest_username: u\ntest_password: p\nproxy_port: 143"),
			[]string{tp + "test_username (line 10): test credentials are unused without deep_check: true"}},
		{"TLS options on plain", imapTarget("tls_skip_verify: true"),
			[]string{tp + "tls_mode (line 6): tls_skip_verify, tls_ca_file, tls_server_name, tls_cert_file and tls_key_file are ignored with tls_mode plain"}},
		{"skip verify", imapTarget("tls: true\ntls_skip_verify: true\nproxy_port: 143"),
			[]string{tp + "tls_skip_verify (line 10): certificate verification is off: the check cannot tell the backend from an impostor"}},
		{"implicit TLS without proxy_port", imapTarget("tls: true"),
			[]string{tp + "tls (line 9): implicit TLS: nginx's mail proxy speaks plain text to its upstream, so /api/v1/auth/nginx will not hand out this target; set proxy_port to its plain or STARTTLS port"}},
		{"tls_mode implicit without proxy_port", target("smtp", "127.0.0.1", 465, "tls_mode: implicit"),
			[]string{tp + "tls_mode (line 9): implicit TLS: nginx's mail proxy speaks plain text to its upstream, so /api/v1/auth/nginx will not hand out this target; set proxy_port to its plain or STARTTLS port"}},
		{"implicit TLS sieve and http are not nginx's", target("http", "127.0.0.1", 443, "tls: true"), nil},
		{"backends without a gateway", "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:8080\n",
			[]string{"definitions.backends (line 2): 1 backend(s) defined but unused and not compiled: there is no gateway without gateway.address"}},
		{"backends with a gateway", "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:8080\ngateway:\n  address: 127.0.0.1:8081\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.yml).Warnings()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}
